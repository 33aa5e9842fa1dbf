"""Peak RSS of a benchmarked process. wait4's ru_maxrss is no good here: a child forked from
Python starts with Python's pages (~14 MB) and keeps that peak across exec."""
import subprocess

def hwm_mb(pid):
    """Peak RSS so far of a running process (VmHWM is reset by exec)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")

def gnu_time_mb(argv):
    """Peak RSS of a command that exits by itself, from GNU time (a small parent)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024
