# The canary's BAD revision: a healthy web app on the wrong port (8080; the ingress targets 80).
# pyright: reportMissingImports=false
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> tuple[dict[str, str], int]:
    return {"message": "traffic-routing-canary: the canary build, listening on 8080"}, 200
