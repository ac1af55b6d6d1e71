# Sourced by score.sh and sweep.sh, the scripts that submit jobs: after `here` (their directory)
# and `me` (their name for messages) are set, it finds the programs for the jobs (XFER_BIN, else
# bin/ of this checkout when built, else the jobs' PATH), checks that sbatch is here, and defines
# abs, which makes a path absolute (jobs start in the submit directory, but say so rather than rely
# on it).
[ -n "${XFER_BIN:-}" ] || { [ ! -x "$here/../../bin/xfer-cat" ] || XFER_BIN=$(cd "$here/../../bin" && pwd); }
export XFER_BIN
command -v sbatch >/dev/null || { echo "$me: no sbatch here (run it where Slurm jobs are submitted)" >&2; exit 1; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
