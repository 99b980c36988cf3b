from fastapi import FastAPI

from .routers import items

app = FastAPI(
    title="Items API",
)
app.include_router(items.router)
