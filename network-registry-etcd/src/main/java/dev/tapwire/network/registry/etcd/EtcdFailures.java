package dev.tapwire.network.registry.etcd;

import java.util.Locale;

/** What a jetcd/gRPC failure means, read from its chain of messages: credentials, TLS, a limit, or a transient one. */
final class EtcdFailures {

    private EtcdFailures() {
    }

    /** Whether etcd refused the user, the password or the token. */
    static boolean isCredentials(String text) {
        return text.contains("UNAUTHENTICATED") || text.contains("PERMISSION_DENIED")
                || text.contains("authentication failed") || text.contains("user name is empty")
                || text.contains("invalid auth token");
    }

    /** Whether a request or its reply exceeded a size limit of the server or the client. */
    static boolean isTooBig(String text) {
        return text.contains("RESOURCE_EXHAUSTED") || text.contains("too many operations in txn request")
                || text.contains("request is too large");
    }

    /** Whether the request may succeed when tried again, on this member or another. */
    static boolean isTransient(String text) {
        return text.contains("UNAVAILABLE") || text.contains("DEADLINE_EXCEEDED") || text.contains("leader changed")
                || text.contains("no leader") || text.contains("Connection") || text.contains("connection")
                || text.contains("closed") || text.contains("timed out") || text.contains("CANCELLED");
    }

    /**
     * Says what TLS refused, when the failure is a TLS one: an untrusted server certificate, one for another host
     * name, a server that does not speak TLS, a client that speaks plain HTTP to a TLS server, or a client
     * certificate the server refused (missing, or not signed by a CA it trusts).
     *
     * @return the reason in words, or null when the failure is no TLS one
     */
    static String tls(Throwable failure) {
        StringBuilder all = new StringBuilder();
        for (Throwable c = failure; c != null; c = c.getCause()) {
            all.append(c.getClass().getName()).append(": ").append(c.getMessage()).append('\n');
        }
        String text = all.toString();
        String lower = text.toLowerCase(Locale.ROOT);
        if (lower.contains("pkix path") || lower.contains("unable to find valid certification path")
                || lower.contains("certificate_unknown") && lower.contains("sslhandshake") && !lower.contains("alert")) {
            return "TLS: the server's certificate is not signed by a CA this client trusts";
        }
        if (lower.contains("no subject alternative") || lower.contains("no name matching") || lower.contains("subject alternative names")
                || lower.contains("hostname") && lower.contains("match")) {
            return "TLS: the server's certificate is not valid for the host name or address connected to";
        }
        if (lower.contains("notsslrecordexception") || lower.contains("not an ssl/tls record")
                || lower.contains("unsupported or unrecognized ssl message")) {
            return "TLS: the server does not speak TLS (plain http?); use http:// or an etcd:// URI";
        }
        if (lower.contains("closed while performing tls negotiation")) {
            return "TLS: the server closed the connection during the handshake: it likely does not speak TLS (plain"
                    + " http?); then use http:// or an etcd:// URI";
        }
        if (lower.contains("bad_certificate") || lower.contains("certificate_required")
                || lower.contains("unknown_ca") || lower.contains("alert") && lower.contains("certificate")) {
            return "TLS: the server refused this client's certificate (missing, or not signed by a CA it trusts)";
        }
        if (lower.contains("sslhandshake") || lower.contains("sslexception")) {
            return "TLS: the handshake failed";
        }
        return null;
    }
}
