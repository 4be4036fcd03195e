# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import test_gevent_spawn
from . import test_cron_listener
from . import test_info_route
from . import test_revocation
from . import test_longpolling
from . import test_session_rotation
