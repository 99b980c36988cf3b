import fastapi

app = fastapi.FastAPI(title="Orders")


@app.get("/health")
def health():
    return {"ok": True}
