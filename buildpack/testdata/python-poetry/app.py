import bottle

app = bottle.Bottle()


@app.route("/")
def index():
    return "hi"
