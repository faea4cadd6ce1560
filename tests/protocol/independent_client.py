#!/usr/bin/env python3
"""A remit client written from docs/PROTOCOL.md alone (no remit code): it authenticates with and
without a per-frame MAC, creates two accounts, moves money, looks it up and checks every
frame it receives. Used as a conformance test of the server:

    independent_client.py HOST PORT KEYS_FILE [KEY_ID]

Exit status 0 when every step behaved as docs/PROTOCOL.md says, 1 otherwise (with the step)."""
import hashlib
import hmac
import os
import socket
import struct
import sys

# ---- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) --------------------------------
_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value

HEADER = struct.Struct("<4sHHIIQQHHI16sII")  # section 2: 64 bytes
assert HEADER.size == 64


def fail(step, why):
    print(f"FAIL {step}: {why}")
    sys.exit(1)


class Session:
    def __init__(self, host, port, key_id, secret, mac_mode):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.key_id, self.secret, self.mac_mode = key_id, secret, mac_mode
        self.send_seq = 0
        self.recv_seq = 0
        self.c2s = self.s2c = None

    def frame(self, opcode, body, event_count, request_id):
        seq = self.send_seq
        hdr = HEADER.pack(b"RMTP", 1, opcode, len(body), event_count, request_id, seq, 0, 0,
                          crc32c(body) if body else 0, bytes(16), 0, 0)
        if self.c2s is not None:
            mac = hmac.new(self.c2s, hdr + body, hashlib.sha256).digest()[:16]
            hdr = hdr[:40] + mac + hdr[56:]
        hdr = hdr[:60] + struct.pack("<I", crc32c(hdr[:60]))
        return hdr + body

    def recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed by the server")
            out += chunk
        return out

    def receive(self, step):
        hdr = self.recv_exact(64)
        (magic, version, opcode, body_size, event_count, request_id, seq, status, flags,
         body_crc, mac, reserved, header_crc) = HEADER.unpack(hdr)
        if magic != b"RMTP" or version != 1:
            fail(step, "bad magic or version")
        if crc32c(hdr[:60]) != header_crc:
            fail(step, "header_crc32c does not match")
        body = self.recv_exact(body_size)
        if (crc32c(body) if body else 0) != body_crc:
            fail(step, "body_crc32c does not match")
        if not flags & 1:
            fail(step, "response flag not set")
        if seq != self.recv_seq:
            fail(step, f"sequence {seq}, expected {self.recv_seq}")
        if self.s2c is not None:
            zeroed = hdr[:40] + bytes(16) + hdr[56:60] + bytes(4)
            want = hmac.new(self.s2c, zeroed + body, hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(want, mac):
                fail(step, "the server's MAC does not verify")
        elif mac != bytes(16):
            fail(step, "MAC set on a session without MAC")
        if self.recv_seq or self.c2s is not None:
            self.recv_seq += 1
        return opcode, event_count, request_id, status, body

    def handshake(self):
        nonce = os.urandom(16)
        hello = self.key_id.encode().ljust(32, b"\0") + nonce + struct.pack("<I", self.mac_mode) + bytes(12)
        self.sock.sendall(self.frame(1, hello, 1, 1))
        op, n, rid, status, reply = self.receive("hello")
        if (op, n, rid, status, len(reply)) != (1, 1, 1, 0, 64):
            fail("hello", f"reply op={op} n={n} id={rid} status={status} size={len(reply)}")
        server_nonce = reply[:16]
        body_size_max, event_count_max, inflight_max, mac_required = struct.unpack("<IIII", reply[16:32])
        if body_size_max < 128 * event_count_max or inflight_max < 1:
            fail("hello", "limits out of range")
        # server_version (16 bytes at 32), then role (u32 at 48), then 12 reserved bytes.
        (self.role,) = struct.unpack_from("<I", reply, 48)
        if self.role not in (0, 1, 2):
            fail("hello", f"role {self.role} is none of 0, 1, 2")
        if reply[52:64] != bytes(12):
            fail("hello", "the 12 reserved bytes after role are not zero")
        proof = hmac.new(self.secret, b"remit-auth-v1" + hello + reply, hashlib.sha256).digest()
        self.sock.sendall(self.frame(2, proof, 1, 2))
        op, n, rid, status, auth = self.receive("auth")
        if status != 0 or len(auth) != 48:
            fail("auth", f"status {status}")
        session_id, permissions = struct.unpack("<QI", auth[:12])
        want = hmac.new(self.secret, b"remit-server-v1" + hello + reply + proof, hashlib.sha256).digest()
        if not hmac.compare_digest(want, auth[16:48]):
            fail("auth", "server_proof does not verify")
        if self.mac_mode == 1:
            self.c2s = hmac.new(self.secret, b"remit-c2s-v1" + nonce + server_nonce, hashlib.sha256).digest()
            self.s2c = hmac.new(self.secret, b"remit-s2c-v1" + nonce + server_nonce, hashlib.sha256).digest()
        self.send_seq = 1
        self.recv_seq = 1
        return permissions, reply[32:48].rstrip(b"\0").decode()

    def request(self, opcode, body, event_count, request_id, step):
        self.sock.sendall(self.frame(opcode, body, event_count, request_id))
        self.send_seq += 1
        op, n, rid, status, rbody = self.receive(step)
        if op != opcode or rid != request_id:
            fail(step, f"response opcode {op} request_id {rid}")
        return status, n, rbody


def u128(x):
    return struct.pack("<QQ", x & (2**64 - 1), x >> 64)


def account(id_, ledger=7, code=1, flags=0):
    return u128(id_) + bytes(64) + u128(0) + struct.pack("<QII", 0, 0, 0) + struct.pack("<IHHQ", ledger, code, flags, 0)


def transfer(id_, debit, credit, amount, ledger=7, code=1, flags=0):
    return (u128(id_) + u128(debit) + u128(credit) + u128(amount) + u128(0) + u128(0) +
            struct.pack("<QII", 0, 0, 0) + struct.pack("<IHHQ", ledger, code, flags, 0))


def run(host, port, key_id, secret, mac_mode, base):
    s = Session(host, port, key_id, secret, mac_mode)
    permissions, version = s.handshake()
    if permissions & 7 != 7:
        fail("auth", f"the key needs permissions 7, has {permissions}")
    if s.role != 0:  # remitd runs without a cluster: standalone
        fail("hello", f"role {s.role}, want 0 (standalone)")
    a, b = base + 1, base + 2
    body = account(a) + account(b, flags=0)
    status, n, r = s.request(16, body, 2, 10, "create_accounts")
    codes = [struct.unpack_from("<I", r, 16 * i)[0] for i in range(n)]
    if status != 0 or codes != [0, 0]:
        fail("create_accounts", f"status {status} results {codes}")
    t = transfer(base + 100, a, b, 250)
    status, n, r = s.request(17, t, 1, 11, "create_transfers")
    code, _, ts = struct.unpack("<IIQ", r)
    if status != 0 or code != 0 or ts == 0:
        fail("create_transfers", f"status {status} result {code} timestamp {ts}")
    status, n, r = s.request(17, t, 1, 12, "create_transfers again")
    code, _, ts2 = struct.unpack("<IIQ", r)
    if code != 3 or ts2 != ts:  # exists, with the original timestamp
        fail("create_transfers again", f"result {code} timestamp {ts2} (want exists, {ts})")
    status, n, r = s.request(18, u128(a) + u128(b) + u128(base + 999), 3, 13, "lookup_accounts")
    if status != 0 or n != 2 or len(r) != 256:
        fail("lookup_accounts", f"status {status} found {n}")
    debits_posted_a = int.from_bytes(r[32:48], "little")
    credits_posted_b = int.from_bytes(r[128 + 64:128 + 80], "little")
    if debits_posted_a != 250 or credits_posted_b != 250:
        fail("lookup_accounts", f"balances {debits_posted_a} {credits_posted_b}")
    status, n, r = s.request(3, b"ping!", 0, 14, "ping")
    if status != 0 or r != b"ping!":
        fail("ping", f"status {status} body {r!r}")
    status, n, r = s.request(200, b"", 0, 15, "unknown opcode")
    if status != 6:
        fail("unknown opcode", f"status {status}, want 6 (unknown_opcode)")
    status, n, r = s.request(3, b"", 0, 16, "ping after an error")
    if status != 0:
        fail("ping after an error", f"status {status}")
    # Opcodes 64 to 127 are node-to-node traffic (section 9): a key without permission 8
    # gets permission_denied; with it, a server that defines none of them unknown_opcode.
    want = 6 if permissions & 8 else 10
    for request_id, opcode in ((17, 64), (18, 127)):
        status, n, r = s.request(opcode, b"", 0, request_id, f"opcode {opcode}")
        if status != want:
            fail(f"opcode {opcode}", f"status {status}, want {want}")
    status, n, r = s.request(3, b"", 0, 19, "ping after a node opcode")
    if status != 0:
        fail("ping after a node opcode", f"status {status}")
    s.sock.close()
    print(f"ok: mac_mode {mac_mode}, server {version}, role {s.role}, moved 250 from {a} to {b}")


def main():
    host, port, keys_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    key_id = sys.argv[4] if len(sys.argv) > 4 else "admin"
    secret = None
    for line in open(keys_file):
        fields = line.split("#")[0].split()
        if len(fields) == 3 and fields[0] == key_id:
            secret = bytes.fromhex(fields[1])
    if secret is None:
        fail("keys", f"no key {key_id} in {keys_file}")
    base = int.from_bytes(os.urandom(8), "little") << 32
    run(host, port, key_id, secret, 0, base)
    run(host, port, key_id, secret, 1, base + 1000)


if __name__ == "__main__":
    main()
