# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    'name': 'Bus Sidecar',
    'summary': "Let an external bus server (the bus sidecar) replace Odoo's evented process",
    # The sidecar's version (package.json): Odoo puts the series in front when it loads the
    # module (17.0.0.1.0 on 17.0), so one code base states every series it serves, 12.0 to 19.0.
    'version': '0.1.0',
    'category': 'Technical',
    'author': 'odoo-bus-sidecar',
    'license': 'LGPL-3',
    'depends': ['base', 'web', 'bus'],
    'data': [],
    'post_load': 'post_load',
    'installable': True,
    'auto_install': False,
    # Listed under the Apps menu's default "Apps" filter (application = True), so that an
    # administrator finds it without clearing the filter.
    'application': True,
}
