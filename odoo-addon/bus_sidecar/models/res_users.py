# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from .. import revocation

#: What Odoo hashes into a session token, for a version without `_get_session_token_fields`.
_DEFAULT_TOKEN_FIELDS = frozenset(('id', 'login', 'password', 'active'))


class ResUsers(models.Model):
    _inherit = 'res.users'

    # Odoo invalidates every session of a user by changing the session token, which is an HMAC
    # keyed with some of the user's columns (`_get_session_token_fields`): the password hash,
    # the login, the active flag, and what modules add (TOTP secret, OAuth token). Its own
    # websocket notices at the socket's next message; the sidecar is told after the commit
    # that makes the change, names the user's partner, and re-validates that partner's sockets
    # with Odoo, which answers SessionExpired for the invalidated ones.

    def _set_encrypted_password(self, uid, pw):
        # Every password change ends here: write(), change_password(), the password wizards,
        # signup, and the re-hash of an outdated hash at login.
        result = super()._set_encrypted_password(uid, pw)
        self.browse(uid)._bus_sidecar_revoke_after_commit()
        return result

    def write(self, vals):
        result = super().write(vals)
        if self._bus_sidecar_token_fields().intersection(vals):
            self._bus_sidecar_revoke_after_commit()
        return result

    def unlink(self):
        cr = self.env.cr
        partner_ids = self.sudo().mapped('partner_id').ids
        result = super().unlink()
        revocation.send_partners_after_commit(cr, partner_ids)
        return result

    def _bus_sidecar_token_fields(self):
        fields = getattr(self, '_get_session_token_fields', None)
        return set(fields() if fields else _DEFAULT_TOKEN_FIELDS) - {'id'}

    def _bus_sidecar_revoke_after_commit(self):
        revocation.send_partners_after_commit(self.env.cr, self.sudo().mapped('partner_id').ids)
