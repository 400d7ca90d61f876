"""Microsoft's Kusto SDK (azure-kusto-ingest) as a client of the ADX stand-in, for tests/adx_sdk.rs, run with the
venv that scripts/pyenv.sh creates.

Usage: kusto_sdk_client.py CLUSTER_URL DATABASE TABLE MAPPING [TOKEN] < NDJSON

Streams stdin with KustoStreamingIngestClient (JSON format, the mapping by name) and prints one JSON object:
{"ok": true, "status": "..."} when the SDK accepted the reply, or {"ok": false, "error_type", "code", "message",
"permanent"} when it raised. The SDK talks plain http:// to a loopback stand-in through
KustoConnectionStringBuilder.with_no_authentication (no Azure AD, no Authorization header) or, given TOKEN,
with_token_provider (a fixed bearer token, no Azure AD either).
"""

import io
import json
import sys

from azure.kusto.data import KustoConnectionStringBuilder
from azure.kusto.data.data_format import DataFormat
from azure.kusto.data.exceptions import KustoApiError
from azure.kusto.ingest import IngestionProperties, KustoStreamingIngestClient


def main():
    cluster, database, table, mapping = sys.argv[1:5]
    token = sys.argv[5] if len(sys.argv) > 5 else None
    data = sys.stdin.buffer.read()
    if token is None:
        kcsb = KustoConnectionStringBuilder.with_no_authentication(cluster)
    else:
        kcsb = KustoConnectionStringBuilder.with_token_provider(cluster, lambda: token)
    client = KustoStreamingIngestClient(kcsb)
    props = IngestionProperties(
        database=database,
        table=table,
        data_format=DataFormat.MULTIJSON,
        ingestion_mapping_reference=mapping,
    )
    try:
        result = client.ingest_from_stream(io.BytesIO(data), ingestion_properties=props)
        print(json.dumps({"ok": True, "status": str(result.status)}))
    except KustoApiError as e:
        err = e.get_api_error()
        print(
            json.dumps(
                {
                    "ok": False,
                    "error_type": type(e).__name__,
                    "code": err.code,
                    "message": err.message,
                    "description": err.description,
                    "permanent": err.permanent,
                }
            )
        )
    except Exception as e:  # noqa: BLE001 - the test wants to see any other failure, by type
        print(json.dumps({"ok": False, "error_type": type(e).__name__, "message": str(e)}))


if __name__ == "__main__":
    main()
