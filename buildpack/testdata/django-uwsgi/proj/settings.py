SECRET_KEY = "x"
ROOT_URLCONF = "proj.urls"
