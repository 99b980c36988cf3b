class Config:
    SECRET_KEY = "change-me"
