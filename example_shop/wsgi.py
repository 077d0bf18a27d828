import os

from django.core.wsgi import get_wsgi_application

from reco_app.wsgi import beacon_fast_path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_shop.settings")
# anonymous reco.js beacons are answered ahead of the middleware stack (see reco_app.wsgi)
application = beacon_fast_path(get_wsgi_application())
