#!/bin/sh
# `serve`: apply migrations (advisory-locked on PostgreSQL, so several replicas may start
# together), then run the server on $PORT (8501). A missing or unsafe setting, the cookie key
# above all, stops it here with its message before anything listens.
# `manage.py ARGS`: run a management command. Anything else runs as given.
set -eu
case "${1:-serve}" in
    serve)
        python3 manage.py migrate
        exec streamlit run server.py --server.port "${PORT:-8501}" --server.address "${HOST:-0.0.0.0}"
        ;;
    manage.py)
        shift
        exec python3 manage.py "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
