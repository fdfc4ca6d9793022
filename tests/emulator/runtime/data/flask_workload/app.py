"""A Flask workload as the Practical Guide's revision labs run it (gunicorn, two workers, port 8000)."""
from flask import Flask

app = Flask(__name__)


@app.get("/health")
def health() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


@app.get("/")
def index() -> tuple[dict[str, str], int]:
    return {"message": "flask workload"}, 200
