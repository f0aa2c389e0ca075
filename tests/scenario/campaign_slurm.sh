#!/usr/bin/env bash
# nicsim campaign on a real single-node Slurm (Debian's slurm-wlm and munge),
# started here as docs/campaigns.md and the architecture describe: a random
# munge key owned by munge, munged run as munge, a slurm.conf naming this host
# as controller and sole node, slurmctld and slurmd. Everything lives in a
# temporary folder (key, sockets, state, spool, logs; SLURM_CONF points every
# command there), listens on 127.0.0.1 on free ports, and is stopped by
# process id when the test ends, whatever happens. The job-array script of
# --emit-jobs runs under `sbatch --wait`; `nicsim merge` of its reports must
# equal the local engine's merged JSON.
#
# When Slurm cannot run here the test fails, saying why; it never skips.
. "$(dirname "$0")/lib.bash"

PIDS=()         # munged slurmctld slurmd, in start order
JOBID=""
JOB_PENDING=""
S=""            # the cluster's folder
cleanup() {
  # A job array possibly still running (sbatch --wait failed or was
  # interrupted): cancel it while the controller is up.
  if [ -n "$JOB_PENDING" ] && [ -s "$S/sbatch.out" ]; then
    JOBID=$(head -1 "$S/sbatch.out" | cut -d';' -f1)
    [ -n "$JOBID" ] && SLURM_CONF="$S/slurm.conf" timeout 15 scancel "$JOBID" >/dev/null 2>&1 && sleep 1
  fi
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  [ -n "$S" ] && rm -rf "$S"
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

# Show the daemons' logs, then fail.
die() {
  bad "$*"
  if [ -n "$S" ]; then
    for f in "$S"/munged.log "$S"/slurmctld.log "$S"/slurmd.log "$S"/*.out; do
      [ -s "$f" ] && { echo "--- $f (last lines)"; tail -15 "$f" | sed 's/^/  | /'; }
    done
  fi
  finish
  exit 1
}

# ---- what Slurm needs ----
[ "$(id -u)" -eq 0 ] || die "Slurm's daemons must start as root here (SlurmUser=root, munged as user munge); running as $(id -un)"
missing=()
for c in munged munge slurmctld slurmd sbatch sinfo scancel setpriv; do command -v "$c" >/dev/null || missing+=("$c"); done
[ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]} (Debian packages slurm-wlm, munge, util-linux; scripts/setup.sh installs them)"
id munge >/dev/null 2>&1 || die "no user 'munge' (the munge package creates it)"

# ---- the spec, and the local engine's result to compare with ----
cat >"$T/campaign.yaml" <<EOF
traces: ["$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"]
designs: [zc-shared-ring, copy]
faults:
  - []
  - ["malicious_dma:prob=0.05"]
seeds: 1..3
EOF
"$NICSIM" campaign "$T/campaign.yaml" -j 2 --out "$T/local" --quiet || die "local engine failed"
ok "local engine (12 runs)"

# ---- a single-node cluster in a temporary folder ----
# Short paths under /tmp: munge and slurmd make Unix sockets there (108 bytes at most).
S=$(mktemp -d /tmp/nicsim-slurm.XXXXXX) || die "cannot create a temporary folder"
chmod 755 "$S"
mkdir -p "$S/munge" "$S/state" "$S/spool"
chown munge:munge "$S/munge" && chmod 755 "$S/munge" || die "cannot give $S/munge to user munge"
head -c 1024 /dev/urandom >"$S/munge/munge.key"
chown munge:munge "$S/munge/munge.key" && chmod 400 "$S/munge/munge.key" || die "cannot set up the munge key"
export SLURM_CONF="$S/slurm.conf"

host=$(hostname -s)
cpus=$(nproc)
mem=$(free -m | awk '/^Mem:/ {print $2}')
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
cluster="nicsim$$"
cat >"$SLURM_CONF" <<EOF
# A single-node cluster for nicsim's test: this host is controller and node.
ClusterName=$cluster
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/munge.socket
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Schedule array tasks as soon as CPUs free up (the default waits 3 s).
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=nicsim Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

t0=$(date +%s.%N)
setpriv --reuid=munge --regid=munge --init-groups -- munged -F --key-file="$S/munge/munge.key" \
  --socket="$S/munge/munge.socket" --pid-file="$S/munge/munged.pid" --seed-file="$S/munge/munged.seed" \
  --log-file="$S/munged.log" >"$S/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -S "$S/munge/munge.socket" ] && break; sleep 0.1; done
munge -S "$S/munge/munge.socket" -n 2>"$S/munge.err" | unmunge -S "$S/munge/munge.socket" >/dev/null 2>>"$S/munge.err" \
  || die "munged does not answer: $(head -2 "$S/munge.err" "$S/munged.out" | tr '\n' ' ')"
ok "munged runs as munge (pid ${PIDS[0]})"

slurmctld -D -f "$SLURM_CONF" >"$S/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >"$S/slurmd.out" 2>&1 &
PIDS+=($!)
state=""
for _ in $(seq 1 120); do
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || die "a Slurm daemon exited while starting (pid $p)"; done
  state=$(sinfo -h -N -n "$host" -o '%T' 2>/dev/null | head -1)
  [ "$state" = idle ] && break
  sleep 0.5
done
t1=$(date +%s.%N)
[ "$state" = idle ] || die "the node never became idle in 60 s (sinfo says '${state:-nothing}')"
ok "slurmctld (pid ${PIDS[1]}) and slurmd (pid ${PIDS[2]}) up, node $host idle with $cpus CPUs after $(python3 -c "print(round($t1-$t0,1))") s"

# ---- the campaign as a job array ----
"$NICSIM" campaign "$T/campaign.yaml" --emit-jobs --out "$T/slurm" >/dev/null || die "--emit-jobs failed"
grep -q '^#SBATCH --array=1-12$' "$T/slurm/campaign.sbatch" || die "no --array=1-12 in the script"
cd "$T" || die "cd"
JOB_PENDING=1
t2=$(date +%s.%N)
timeout 300 sbatch --wait --parsable "$T/slurm/campaign.sbatch" >"$S/sbatch.out" 2>"$S/sbatch.err"
rc=$?
t3=$(date +%s.%N)
JOBID=$(head -1 "$S/sbatch.out" | cut -d';' -f1)
[ -n "$JOBID" ] || die "sbatch refused the script: $(head -2 "$S/sbatch.err" | tr '\n' ' ')"
[ $rc -eq 0 ] || die "sbatch --wait: exit $rc (job $JOBID): $(head -2 "$S/sbatch.err" | tr '\n' ' ')"
left=$(squeue -h -j "$JOBID" 2>/dev/null | wc -l)
[ "$left" -eq 0 ] || die "$left array tasks still queued or running"
ok "sbatch --wait: job array $JOBID of 12 tasks completed in $(python3 -c "print(round($t3-$t2,1))") s"
JOB_PENDING=""

n=$(ls "$T/slurm/runs" 2>/dev/null | wc -l)
[ "$n" -eq 12 ] && ok "12 reports written by the array tasks" || bad "$n reports from the array tasks"
nout=$(ls "$T/slurm/slurm/" 2>/dev/null | wc -l)
[ "$nout" -eq 12 ] && ok "12 task logs in OUT/slurm" || bad "$nout task logs in OUT/slurm"
if cat "$T/slurm/slurm/"* 2>/dev/null | grep -q .; then bad "the tasks wrote output"; cat "$T/slurm/slurm/"* | head -5; else ok "the tasks wrote nothing (quiet runs)"; fi

"$NICSIM" merge "$T/slurm/runs" --json "$T/slurm.json" --quiet || bad "merge of the Slurm runs failed"
cmp -s "$T/slurm.json" "$T/local/merged.json" && ok "merged JSON identical to the local engine's" || bad "merged JSON differs from the local engine's"
python3 -c "import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); assert a==b and a['runs']==12" \
  "$T/slurm.json" "$T/local/merged.json" && ok "same JSON values (12 runs)" || bad "JSON values differ"

# ---- the three daemons stop ----
cd / || true
pids=("${PIDS[@]}")
cleanup_start=$(date +%s.%N)
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
  kill -TERM "${PIDS[i]}" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "${PIDS[i]}" 2>/dev/null || break; sleep 0.1; done
  wait "${PIDS[i]}" 2>/dev/null
done
PIDS=()
alive=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
[ $alive -eq 0 ] && ok "munged, slurmctld and slurmd stopped by pid ($(python3 -c "print(round($(date +%s.%N)-$cleanup_start,1))") s)" \
  || bad "a daemon is still running: ${pids[*]}"
finish
