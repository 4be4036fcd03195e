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
    # with Odoo, which answers SessionExpired for the invalidated ones. Each HTTP worker caches
    # session tokens (`_compute_session_token` is an ormcache) until Odoo signals the cache
    # invalidation, so the announcement waits for that signal (`revocation.py`).

    def _set_encrypted_password(self, uid, pw):
        # Every password change ends here: write(), change_password(), the password wizards,
        # signup, and the re-hash of an outdated hash at login. A write() of the password
        # invalidates the caches itself; the other paths do not, and the other workers would
        # keep accepting the user's sessions with their cached tokens.
        result = super()._set_encrypted_password(uid, pw)
        self._bus_sidecar_invalidate_session_tokens()
        self.browse(uid)._bus_sidecar_revoke_after_commit()
        return result

    def write(self, vals):
        result = super().write(vals)
        if self._bus_sidecar_token_fields().intersection(vals):
            self._bus_sidecar_revoke_after_commit()
        return result

    def unlink(self):
        cr = self.env.cr
        registry = self.env.registry
        partner_ids = self.sudo().mapped('partner_id').ids
        result = super().unlink()
        revocation.send_partners_after_commit(cr, partner_ids, registry)
        return result

    def _bus_sidecar_token_fields(self):
        fields = getattr(self, '_get_session_token_fields', None)
        return set(fields() if fields else _DEFAULT_TOKEN_FIELDS) - {'id'}

    def _bus_sidecar_invalidate_session_tokens(self):
        """Drop the cached session tokens here, and in the other workers once signalled.

        What 18.0 and 19.0 do themselves when a login re-hashes the password; a second clear in
        the same transaction (write() clears too) costs nothing more than the first.
        """
        clear_cache = getattr(self.env.registry, 'clear_cache', None)
        if clear_cache is not None:
            clear_cache()  # 17.0+: the 'default' cache, which holds the session tokens
        else:
            self.clear_caches()  # up to 16.0: every cache of the registry

    def _bus_sidecar_revoke_after_commit(self):
        revocation.send_partners_after_commit(
            self.env.cr, self.sudo().mapped('partner_id').ids, self.env.registry)
