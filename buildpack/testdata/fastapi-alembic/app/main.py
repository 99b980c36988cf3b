from fastapi import FastAPI

app = FastAPI(title="orders")


@app.get("/")
def root():
    return {"ok": True}
