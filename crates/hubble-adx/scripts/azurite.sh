#!/usr/bin/env bash
# Azurite (Azure Storage emulator) for the queued-ingestion tests.
#
#   scripts/azurite.sh install        install azurite@3 once into the cache dir (npm, local prefix)
#   scripts/azurite.sh run DATA_DIR   pick free ports, print "AZURITE blob=<port> queue=<port>",
#                                     then exec Azurite on 127.0.0.1 with DATA_DIR as its location
#
# Cache dir: $AZURITE_HOME, default ~/.cache/hubble-ingest/azurite. Needs node and npm.
set -euo pipefail

AZURITE_HOME="${AZURITE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/hubble-ingest/azurite}"
BIN="$AZURITE_HOME/node_modules/.bin/azurite"

install() {
    command -v node >/dev/null || { echo "azurite.sh: node is not installed" >&2; exit 3; }
    command -v npm >/dev/null || { echo "azurite.sh: npm is not installed" >&2; exit 3; }
    if [ ! -x "$BIN" ]; then
        mkdir -p "$AZURITE_HOME"
        echo "azurite.sh: installing azurite@3 into $AZURITE_HOME" >&2
        npm install --prefix "$AZURITE_HOME" --no-audit --no-fund --loglevel=error azurite@3 >&2
    fi
}

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

case "${1:-}" in
    install)
        install
        ;;
    run)
        data_dir="${2:?usage: azurite.sh run DATA_DIR}"
        install
        blob_port="$(free_port)"
        queue_port="$(free_port)"
        while [ "$queue_port" = "$blob_port" ]; do queue_port="$(free_port)"; done
        table_port="$(free_port)"
        echo "AZURITE blob=$blob_port queue=$queue_port"
        exec "$BIN" --silent --skipApiVersionCheck --loose \
            --location "$data_dir" \
            --blobHost 127.0.0.1 --blobPort "$blob_port" \
            --queueHost 127.0.0.1 --queuePort "$queue_port" \
            --tableHost 127.0.0.1 --tablePort "$table_port"
        ;;
    *)
        echo "usage: $0 install | run DATA_DIR" >&2
        exit 2
        ;;
esac
