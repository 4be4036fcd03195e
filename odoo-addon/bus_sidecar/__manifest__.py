# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    'name': 'Bus Sidecar',
    'summary': "Let an external bus server (the bus sidecar) replace Odoo's evented process",
    'version': '1.0.0',
    'category': 'Hidden/Tools',
    'author': 'odoo-bus-sidecar',
    'license': 'LGPL-3',
    'depends': ['base', 'web', 'bus'],
    'data': [],
    'post_load': 'post_load',
    'installable': True,
    'auto_install': False,
    'application': False,
}
