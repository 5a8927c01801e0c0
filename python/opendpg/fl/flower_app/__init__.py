"""The OpenDPG Flower app: ``server`` (ServerApp) and ``client`` (ClientApp), run on Flower's Deployment
Engine. This directory (with its pyproject.toml) is what ``flwr run`` packages; the code is imported from
the installed ``opendpg`` package (runtime dependency installation stays disabled)."""
