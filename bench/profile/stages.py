#!/usr/bin/env python3
"""Where a transfer's time goes in remitd, by stage, from a perf profile.

    perf record -F 999 -g -p $(pgrep remitd) -o perf.data -- sleep 10   # under load
    bench/profile/stages.py perf.data

It reads `perf report --no-children --sort dso,symbol` (self time of each symbol) and
sums the samples into the stages of a transfer's path: codec (frame checks, CRC, MAC),
gateway (sessions, Asio, answers), coordinator (the shards' batch driver, claims, ids,
history), account actors, journal (records, group commit, snapshots), the CAF runtime
(scheduling, mailboxes, its dynamic_cast per activation), the allocator, and the kernel
(split into socket and file I/O versus the rest). The rules are the regular expressions
below, first match wins; what matches none is reported as `other` with its top symbols,
so nothing is silently assigned."""
import re
import subprocess
import sys
from collections import defaultdict

RULES = [
    ("codec", r"remit::crc32c|remit::codec::|frame_decoder|seal_frame|mac_key|hmac|EVP_|sha256|SHA256"),
    ("gateway", r"remit::gateway::|boost::asio|asio::detail"),
    ("journal", r"remit::actors::.*journal|journal_writer|write_snapshot|read_snapshot|apply_committed|"
                r"build_snapshot|record_view|remit::journal|encode_record|reference_ledger::replay"),
    ("account actors", r"account_behavior|account_actor|account_state|settle|escrow"),
    ("coordinator", r"remit::actors::|remit::id_map|reference_ledger::add_history|remit::rules|"
                    r"remit::check_|remit::first_failure"),
    ("CAF runtime", r"caf::|libcaf_core|__dynamic_cast"),
    ("allocator", r"libmimalloc|operator new|operator delete|malloc|free\b"),
    ("kernel: file and socket I/O", r"\[k\].*(copy_|tcp_|sock|skb|ext4|jbd2|blk|nvme|virtio|iomap|filemap|"
                                    r"folio|generic_perform_write|fdatasync|file_|vfs_|netif|loopback|ip_|__dev)"),
    ("kernel: other", r"\[k\]"),
]


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "perf.data"
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol",
                          "--stdio", "-g", "none"], capture_output=True, text=True, check=True).stdout
    stages = defaultdict(float)
    other = defaultdict(float)
    total = 0.0
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+(.*)$", line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
        key = f"{dso} {sym}"
        total += pct
        for stage, rx in RULES:
            if re.search(rx, key):
                stages[stage] += pct
                break
        else:
            stages["other"] += pct
            other[key.strip()] += pct
    print("| stage | share of remitd's CPU samples |")
    print("|---|---:|")
    for stage, _ in RULES + [("other", "")]:
        if stages.get(stage):
            print(f"| {stage} | {stages[stage]:.1f}% |")
    print(f"\n(samples covered: {total:.1f}%)")
    if other:
        print("\nlargest in `other`:")
        for k, v in sorted(other.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {v:5.2f}%  {k[:110]}")


if __name__ == "__main__":
    main()
