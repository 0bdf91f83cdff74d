#!/usr/bin/env bash
# The agent's AMQP tests need a RabbitMQ broker on loopback and Debian's oslo.messaging as the independent client.
# Installs both, keeps the broker's listeners on 127.0.0.1 only and starts the shared broker (guest/guest, loopback).
# Tests that restart a broker start a node of their own (own name, ports and data directory), never this one.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/lib.sh

# Written before the package is installed: its post-install step starts the broker with whatever config is there.
mkdir -p /etc/rabbitmq
conf=/etc/rabbitmq/rabbitmq.conf
if ! grep -qs '^listeners.tcp.default *= *127.0.0.1:5672' "$conf"; then
  [ -e "$conf" ] && sed -i '/^listeners\.tcp/d' "$conf"
  echo 'listeners.tcp.default = 127.0.0.1:5672' >>"$conf"
fi
env_file=/etc/rabbitmq/rabbitmq-env.conf
grep -qs '^ERL_EPMD_ADDRESS=' "$env_file" || echo 'ERL_EPMD_ADDRESS=127.0.0.1' >>"$env_file"
grep -qs 'inet_dist_use_interface' "$env_file" ||
  echo 'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"' >>"$env_file"

need_packages rabbitmq-server python3-oslo.messaging

broker_up() { rabbitmqctl -q status >/dev/null 2>&1; }

# The package may have started the broker already (and it may still be booting): wait a little before starting one.
for _ in $(seq 1 20); do broker_up && break; sleep 1; done
if ! broker_up; then
  log "rabbitmq: starting"
  rabbitmq-server -detached || true
fi
for _ in $(seq 1 120); do broker_up && break; sleep 1; done
broker_up || { log "rabbitmq: the broker did not start; see /var/log/rabbitmq/"; exit 1; }
timeout 120 rabbitmqctl -q await_startup >/dev/null

listeners=$(rabbitmq-diagnostics -q listeners 2>/dev/null || true)
if [[ "$listeners" != *"127.0.0.1, port: 5672"* ]]; then
  log "rabbitmq: the running broker does not listen on 127.0.0.1:5672 only: $listeners"
  exit 1
fi
log "rabbitmq: ready on 127.0.0.1:5672"
