# the flask command reads this (python-dotenv)
FLASK_APP="shop:create_app('production')"
FLASK_DEBUG=1
