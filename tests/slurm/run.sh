#!/usr/bin/env bash
# A real Slurm test of sharded sweeps (docs/SCALE.md): installs Debian's slurm-wlm and munge
# when missing (root, Debian 12), starts a single-node cluster on this machine (munged,
# slurmctld, slurmd as plain daemons: no systemd, no cgroups), submits a small sweep as an
# array job of 4 shards, merges them in a job that depends on the array (afterok), and
# compares the merged files byte for byte with the same sweep run on one machine.
#
# Usage: tests/slurm/run.sh [FLEETSIM_BINARY]   (default: target/debug/fleetsim, or
# $CARGO_TARGET_DIR/debug/fleetsim). Exits non-zero on any failure or byte difference,
# naming what failed; it never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
started=$SECONDS

bin=${1:-${CARGO_TARGET_DIR:-target}/debug/fleetsim}
if [ ! -x "$bin" ]; then
    echo "error: no fleetsim binary at $bin: build it first (cargo build) or pass its path" >&2
    exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

fail() {
    echo "error: $*" >&2
    exit 1
}

# --- install -----------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" -eq 0 ] || fail "slurm-wlm and munge are missing and installing them needs root"
    t=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null ||
        fail "apt-get install slurm-wlm munge failed"
    echo "installed slurm-wlm and munge in $((SECONDS - t)) s"
fi
[ "$(id -u)" -eq 0 ] || fail "starting slurmd needs root (it runs jobs as their user)"
slurmctld -V

# --- a single-node cluster in a scratch folder --------------------------------------------
t=$SECONDS
work=$(mktemp -d /tmp/fleetsim-slurm.XXXXXX)
chmod 755 "$work"
state=$work/state
mkdir -p "$state/ctld" "$state/d" "$work/munge/key"
host=$(hostname -s)
# Two free TCP ports (from 6817, Slurm's default), so that another Slurm on this machine is
# left alone; FLEETSIM_SLURMCTLD_PORT and FLEETSIM_SLURMD_PORT choose them.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p=$1
    while ! port_free "$p"; do
        p=$((p + 1))
        [ "$p" -lt $(($1 + 200)) ] || fail "no free TCP port from $1 to $p for Slurm"
    done
    echo "$p"
}
ctld_port=${FLEETSIM_SLURMCTLD_PORT:-$(free_port 6817)}
d_port=${FLEETSIM_SLURMD_PORT:-$(free_port $((ctld_port + 1)))}

# munge: its own key, socket and pid in the scratch folder, run as the munge user when there
# is one (munged refuses to run as root without --force).
munge_user=munge
id -u "$munge_user" >/dev/null 2>&1 || munge_user=root
key=$work/munge/key/munge.key
dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
chown -R "$munge_user" "$work/munge"
chmod 755 "$work/munge"
chmod 700 "$work/munge/key"
chmod 400 "$key"
socket=$work/munge/munge.socket
munge_args=(--key-file="$key" --socket="$socket" --pid-file="$work/munge/munged.pid"
    --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed")
[ "$munge_user" = root ] && munge_args+=(--force)

cat >"$state/slurm.conf" <<CONF
ClusterName=fleetsim-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$state/slurm.conf

stop() {
    # Only the daemons this script started, by their pid files.
    for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid" "$work/munge/munged.pid"; do
        if [ -s "$pidfile" ]; then
            pid=$(cat "$pidfile")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
    done
}
logs() {
    for f in "$state/slurmctld.log" "$state/slurmd.log" "$work/munge/munged.log"; do
        [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }
    done
    return 0
}
cleanup() {
    local status=$?
    [ "$status" -ne 0 ] && logs
    stop
    if [ "$status" -eq 0 ]; then
        rm -rf "$work"
    else
        echo "kept $work for inspection" >&2
    fi
    exit "$status"
}
trap cleanup EXIT

if [ "$munge_user" = root ]; then
    munged "${munge_args[@]}" || fail "munged did not start"
else
    runuser -u "$munge_user" -- munged "${munge_args[@]}" || fail "munged did not start"
fi
munge -S "$socket" -n | unmunge -S "$socket" >/dev/null || fail "munge cannot encode and decode a credential"

slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"

# Wait for the node to come up (idle).
up=
for _ in $(seq 1 60); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qx 'idle'; then
        up=1
        break
    fi
    sleep 0.5
done
[ -n "$up" ] || fail "the node never became idle: $(sinfo -N 2>&1 | tail -n 2)"
echo "single-node Slurm up in $((SECONDS - t)) s"

# --- the sweep: 4 shards as an array job, a dependent merge, one machine -------------------
t=$SECONDS
cd "$work"
sweep=(sweep tiny --set enrollment.failure_rate=0.05,0.2 --set timing.policy_poll_minutes=30,60,120
    --replications 3 --days 12 --threads 1 --quiet)

cat >shard.sh <<JOB
#!/bin/bash
#SBATCH --job-name=fleetsim-shard
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output=$work/shard-%a.log
set -euo pipefail
"$bin" ${sweep[*]} \\
    --shard \$((SLURM_ARRAY_TASK_ID + 1))/\$SLURM_ARRAY_TASK_COUNT \\
    --out "$work/shards/\$SLURM_ARRAY_TASK_ID"
JOB
cat >merge.sh <<JOB
#!/bin/bash
#SBATCH --job-name=fleetsim-merge
#SBATCH --ntasks=1
#SBATCH --output=$work/merge.log
set -euo pipefail
"$bin" merge "$work"/shards/* --out "$work/merged" --xlsx "$work/merged.xlsx" --quiet
JOB

array=$(sbatch --parsable --array=0-3 --chdir="$work" shard.sh) || fail "sbatch of the array job failed"
array=${array%%;*}
echo "submitted array job $array (4 shards)"
sbatch --parsable --wait --dependency=afterok:"$array" --chdir="$work" merge.sh >/dev/null ||
    fail "the merge job failed: $(cat "$work/merge.log" 2>/dev/null; cat "$work"/shard-*.log 2>/dev/null)"
for k in 0 1 2 3; do
    [ -f "$work/shards/$k/manifest.json" ] || fail "array task $k wrote no shard"
done
echo "array job and merge job done in $((SECONDS - t)) s"

"$bin" "${sweep[@]}" --out "$work/one" --xlsx "$work/one.xlsx"
for f in sweep.csv replications.csv timeline_mean.csv; do
    cmp "$work/one/$f" "$work/merged/$f" || fail "merged $f differs from the one-machine sweep"
done
cmp "$work/one.xlsx" "$work/merged.xlsx" || fail "merged workbook differs from the one-machine sweep"
[ "$(ls "$work/merged")" = "$(ls "$work/one")" ] || fail "the merged folder holds other files"
cd "$repo"
echo "slurm test passed: 4 shards merged to the one-machine bytes; $((SECONDS - started)) s in all"
