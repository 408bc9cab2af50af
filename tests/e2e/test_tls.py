"""PutEvents over HTTPS: the receiver's choice of root certificates.

The receiver reads its roots from the system bundle alone unless
SSL_CERT_FILE or SSL_CERT_DIR is set (src/setup.rs). Here its AWS endpoint is
an HTTPS proxy on 127.0.0.1 in front of moto, with a certificate from a CA
made for this run. Named in SSL_CERT_FILE, that CA is trusted and the event
reaches the bus. With the system bundle the CA is not trusted, so nothing is
sent and the webhook gets a 503.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import harness

PAYMENT_SAMPLE = harness.EVENTS_DIR / "payment_intent.succeeded.json"
FORWARD_TIMEOUT_MS = "1500"


def _certificate(subject: str, key, issuer_name, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A CA made for this run and a certificate it issued for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stripe-eventbridge e2e CA")])
    ca = _certificate("stripe-eventbridge e2e CA", ca_key, ca_name, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("127.0.0.1", server_key, ca_name, ca_key, ca=False)

    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class TlsProxy:
    """An HTTPS server on 127.0.0.1 that passes each request on to moto over HTTP."""

    def __init__(self, moto_url: str, cert_file, key_file):
        target = urllib.parse.urlsplit(moto_url)
        self.forwarded: list[str] = []
        self.failed_handshakes = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - the name http.server looks up
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in ("host", "connection", "content-length")
                }
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    upstream.request("POST", self.path, body, headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                proxy.forwarded.append(self.headers.get("X-Amz-Target", self.path))
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                try:
                    return super().get_request()
                except ssl.SSLError:
                    proxy.failed_handshakes += 1
                    raise

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_proxy(moto_url, tls_files):
    proxy = TlsProxy(moto_url, tls_files["cert"], tls_files["key"])
    try:
        yield proxy
    finally:
        proxy.stop()


def start_receiver(proxy: TlsProxy, secret: str, name: str, **options) -> harness.Receiver:
    receiver = harness.Receiver(
        proxy.url,
        secret,
        log_name=f"watch-{name}.log",
        **options,
    )
    try:
        receiver.wait_ready()
    except BaseException:
        receiver.stop()
        raise
    return receiver


def signed_post(receiver: harness.Receiver, tmp_path, label: str) -> tuple[harness.HttpResult, str]:
    body, event_id = harness.with_new_id(harness.event_body(harness.load_event(PAYMENT_SAMPLE)), label)
    body_file = tmp_path / f"{label}.json"
    body_file.write_bytes(body.encode("utf-8"))
    header = harness.sign(body_file, receiver.secret, "--format", "header").decode("ascii").strip()
    return harness.post_webhook(receiver, body.encode("utf-8"), header), event_id


def test_ca_named_by_ssl_cert_file_is_trusted(stack, secret, tls_proxy, tls_files, all_queue, tmp_path):
    harness.build_binaries()
    receiver = start_receiver(
        tls_proxy,
        secret,
        "tls-trusted",
        extra_env={"SSL_CERT_FILE": str(tls_files["ca"]), "FORWARD_TIMEOUT_MS": FORWARD_TIMEOUT_MS},
        unset_env=("SSL_CERT_DIR",),
    )
    try:
        result, event_id = signed_post(receiver, tmp_path, "tlsok")
    finally:
        receiver.stop()
    harness.assert_log_reveals_nothing(receiver, secret)

    assert result.status == 200, f"POST {event_id} over HTTPS: {result.status} {result.body!r}"
    assert "AWSEvents.PutEvents" in tls_proxy.forwarded, f"proxy forwarded {tls_proxy.forwarded}"
    message = all_queue.wait_for(event_id)
    assert message["detail"]["id"] == event_id, f"message for {event_id}: {message}"


def test_system_bundle_does_not_trust_a_private_ca(stack, secret, tls_proxy, all_queue, tmp_path):
    harness.build_binaries()
    receiver = start_receiver(
        tls_proxy,
        secret,
        "tls-untrusted",
        extra_env={"FORWARD_TIMEOUT_MS": FORWARD_TIMEOUT_MS},
        unset_env=("SSL_CERT_FILE", "SSL_CERT_DIR"),
    )
    try:
        result, event_id = signed_post(receiver, tmp_path, "tlsbad")
    finally:
        receiver.stop()
    harness.assert_log_reveals_nothing(receiver, secret)

    assert result.status == 503, f"POST {event_id} to an untrusted endpoint: {result.status} {result.body!r}"
    assert result.json()["error"] == "eventbridge_unavailable", f"POST {event_id}: {result.body!r}"
    assert tls_proxy.failed_handshakes > 0, "the receiver never tried the HTTPS endpoint"
    assert tls_proxy.forwarded == [], f"an untrusted connection carried {tls_proxy.forwarded}"
    assert not all_queue.received(event_id, wait=1), f"event {event_id} reached the bus"
    assert "UnknownIssuer" in receiver.log_text(), f"{receiver.process.log_path} does not name the certificate error"
