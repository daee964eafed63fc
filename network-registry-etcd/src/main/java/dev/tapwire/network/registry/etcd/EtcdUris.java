package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.spi.RegistryRules;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code etcd:} URI forms, and the checks every registry's settings pass. A secret is never printed: every
 * message shows the URI with its password replaced by {@code ***}.
 */
final class EtcdUris {

    private static final Logger LOG = LoggerFactory.getLogger(EtcdUris.class);
    private static final String FORM = "etcd://host:2379[,host:2379...][/prefix/]"
            + "[?timeout=5s&deadline=10s&pool=10.44.0.0/16&subnet-prefix=24&max-txn-ops=128&user=..&password=..]"
            + " (user:password@host for credentials, etcd+https://... for TLS)";
    private static final String[] PARAMETERS = {"user", "password", "timeout", "deadline", "pool", "subnet-prefix",
        "max-txn-ops"};
    private static final Pattern SECRET_PARAMETER = Pattern.compile("(?i)(password=)[^&#]*");
    private static final Pattern SECRET_USERINFO = Pattern.compile("^([a-z+]+://[^:/@]*):[^@/]*@");
    /** Never a bridge's subnet: "this network", loopback, link-local, multicast, reserved and broadcast. */
    private static final List<Ipv4Subnet> IMPOSSIBLE = List.of(Ipv4Subnet.parse("0.0.0.0/8"),
            Ipv4Subnet.parse("127.0.0.0/8"), Ipv4Subnet.parse("169.254.0.0/16"), Ipv4Subnet.parse("224.0.0.0/3"));
    /** Private and shared address space (RFC 1918, RFC 6598). */
    private static final List<Ipv4Subnet> PRIVATE = List.of(Ipv4Subnet.parse("10.0.0.0/8"),
            Ipv4Subnet.parse("172.16.0.0/12"), Ipv4Subnet.parse("192.168.0.0/16"), Ipv4Subnet.parse("100.64.0.0/10"));

    private EtcdUris() {
    }

    /**
     * Opens the registry an {@code etcd:} URI names: {@code etcd://h1:2379,h2:2379/prefix/} (plain HTTP; port 2379
     * when none is given), or {@code etcd+https://...} for TLS with the JVM's trust store. The path is the key
     * prefix; credentials come from {@code user:password@} or the {@code user} and {@code password} parameters (a
     * password over plain HTTP only to loopback); {@code timeout} is the request timeout, {@code deadline} the
     * operation's ({@code 5s}, {@code 500ms}, positive); {@code pool} and {@code subnet-prefix} set auto-allocation;
     * {@code max-txn-ops} matches the servers' {@code --max-txn-ops}.
     */
    static EtcdNetworkRegistry open(URI uri) {
        String shown = redact(uri.toString());
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        boolean tls = scheme.equals("etcd+https");
        String authority = uri.getRawAuthority();
        if (!(scheme.equals("etcd") || tls) || authority == null || authority.isEmpty()) {
            throw bad(shown, "is not an etcd URI with a host");
        }
        String userInfo = null;
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            userInfo = authority.substring(0, at);
            authority = authority.substring(at + 1);
        }
        List<String> endpoints = new ArrayList<>();
        boolean loopbackOnly = true;
        for (String hostPort : authority.split(",", -1)) {
            String host = hostPort;
            String port = "2379";
            int colon = hostPort.lastIndexOf(':');
            if (colon >= 0 && !hostPort.endsWith("]")) {
                host = hostPort.substring(0, colon);
                port = hostPort.substring(colon + 1);
            }
            if (host.isEmpty() || !port.matches("[0-9]{1,5}") || Integer.parseInt(port) < 1
                    || Integer.parseInt(port) > 65535) {
                throw bad(shown, "names the endpoint \"" + hostPort + "\", which is not host or host:port");
            }
            loopbackOnly &= host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]");
            endpoints.add((tls ? "https://" : "http://") + host + ":" + port);
        }
        EtcdNetworkRegistry.Builder b = EtcdNetworkRegistry.builder(endpoints.toArray(String[]::new));
        String path = uri.getPath();
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            b.prefix(path.endsWith("/") ? path : path + "/");
        }
        RegistryRules.parameters(URI.create(shown), PARAMETERS); // refuses unknown names, printing no secret
        String user = null;
        String password = null;
        if (userInfo != null) {
            int colon = userInfo.indexOf(':');
            user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
            password = colon < 0 ? null : decode(userInfo.substring(colon + 1));
        }
        for (Map.Entry<String, String> p : RegistryRules.parameters(uri, PARAMETERS).entrySet()) {
            String value = p.getValue();
            switch (p.getKey()) {
                case "user" -> user = once(user, decode(value), "user", shown);
                case "password" -> password = once(password, decode(value), "password", shown);
                case "timeout" -> b.timeout(duration("timeout", value, shown));
                case "deadline" -> b.deadline(duration("deadline", value, shown));
                case "pool" -> b.subnetPool(subnet(value, shown));
                case "max-txn-ops" -> b.maxTxnOps(number("max-txn-ops", value, shown));
                default -> b.subnetPrefix(RegistryRules.subnetPrefix(URI.create(shown), value));
            }
        }
        if (password != null && user == null) {
            throw bad(shown, "has a password but no user");
        }
        if (user != null) {
            if (password != null && !tls && !loopbackOnly) {
                throw bad(shown, "sends a password over plain http to a host that is not loopback; use etcd+https://");
            }
            b.credentials(user, password == null ? "" : password);
        }
        try {
            return b.build();
        } catch (InvalidNetworkSpecException e) {
            throw bad(shown, e.getMessage());
        }
    }

    /** The URI text with every password replaced by {@code ***}. */
    static String redact(String uri) {
        return SECRET_USERINFO.matcher(SECRET_PARAMETER.matcher(uri).replaceAll("$1***")).replaceFirst("$1:***@");
    }

    /**
     * Refuses a pool no network can use (holding {@code 0.0.0.0/8}, loopback, link-local or multicast) and warns of
     * one outside private address space.
     *
     * @throws InvalidNetworkSpecException if the pool cannot be right
     */
    static void checkPool(Ipv4Subnet pool) {
        for (Ipv4Subnet impossible : IMPOSSIBLE) {
            if (pool.overlaps(impossible)) {
                throw new InvalidNetworkSpecException("subnet pool " + pool + " overlaps " + impossible + ", which no"
                        + " network can use; use private address space, e.g. 10.44.0.0/16");
            }
        }
        if (PRIVATE.stream().noneMatch(p -> p.contains(pool.networkAddress()) && p.contains(pool.broadcastAddress()))) {
            LOG.warn("subnet pool {} is public address space: networks allocated from it hide those addresses on the"
                    + " internet from their members", pool);
        }
    }

    private static String once(String earlier, String value, String what, String shown) {
        if (earlier != null) {
            throw bad(shown, "gives the " + what + " twice");
        }
        return value;
    }

    private static Duration duration(String name, String value, String shown) {
        Duration d;
        try {
            if (value.endsWith("ms")) {
                d = Duration.ofMillis(Long.parseLong(value.substring(0, value.length() - 2)));
            } else {
                d = Duration.ofSeconds(Long.parseLong(value.endsWith("s") ? value.substring(0, value.length() - 1)
                        : value));
            }
        } catch (NumberFormatException e) {
            throw bad(shown, "has " + name + " \"" + value + "\", which is not a duration; expected e.g. 5s or 500ms");
        }
        if (d.isNegative() || d.isZero()) {
            throw bad(shown, "has " + name + " \"" + value + "\"; it must be positive, e.g. 5s or 500ms");
        }
        return d;
    }

    private static int number(String name, String value, String shown) {
        try {
            int n = Integer.parseInt(value);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw bad(shown, "has " + name + " \"" + value + "\", which is not a positive number");
    }

    private static Ipv4Subnet subnet(String value, String shown) {
        if (!Ipv4Subnet.isValid(value)) {
            throw bad(shown, "has pool \"" + value + "\", which is not an IPv4 subnet; expected e.g. 10.44.0.0/16");
        }
        return Ipv4Subnet.parse(value);
    }

    private static String decode(String text) {
        return URLDecoder.decode(text, StandardCharsets.UTF_8);
    }

    private static InvalidNetworkSpecException bad(String shown, String why) {
        return new InvalidNetworkSpecException("registry URI \"" + shown + "\" " + why + "; expected " + FORM);
    }
}
