"""Django admin for reco_app; each area registers its ModelAdmins in its own module."""

from reco_app.admin import catalog  # noqa: F401

# tracking & consent
from reco_app.admin import tracking  # noqa: F401,E402
# training
from reco_app.admin import training  # noqa: F401,E402
# merchandising rules
from reco_app.admin import rules  # noqa: E402,F401
# segments
from reco_app.admin import segments  # noqa: E402,F401
