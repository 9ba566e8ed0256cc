#!/bin/sh
# demo-init.sh TOP BUILD DEMO: write the demo configuration into DEMO (the
# run command of setup.sh calls it). Existing files are kept, so a second
# run reuses them.
set -eu
top=$1
build=$2
demo=$3
mkdir -p "$demo"
if [ ! -f "$demo/scopegate.json" ]; then
	cat > "$demo/scopegate.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": 8080 } ],
  "upstream": { "url": "http://127.0.0.1:8081", "timeout_ms": 30000 },
  "log": { "access": "-" }
}
EOT
fi
