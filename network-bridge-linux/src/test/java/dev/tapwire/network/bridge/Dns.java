package dev.tapwire.network.bridge;

import java.io.ByteArrayOutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A minimal DNS client for tests: one A query over UDP, the answer's addresses (empty for NXDOMAIN). */
final class Dns {

    private Dns() {
    }

    static List<String> queryA(String server, String name) throws Exception {
        byte[] query = query(name);
        try (DatagramSocket socket = new DatagramSocket()) {
            socket.setSoTimeout(1000);
            for (int attempt = 0; attempt < 3; attempt++) {
                socket.send(new DatagramPacket(query, query.length, new InetSocketAddress(InetAddress.getByName(server),
                        53)));
                byte[] buf = new byte[1500];
                DatagramPacket reply = new DatagramPacket(buf, buf.length);
                try {
                    socket.receive(reply);
                } catch (SocketTimeoutException e) {
                    continue;
                }
                return parse(ByteBuffer.wrap(buf, 0, reply.getLength()));
            }
        }
        throw new IllegalStateException("no DNS answer from " + server + " for " + name);
    }

    /**
     * One A query, no retry: the answer's addresses, or an exception when the server refuses (ICMP port
     * unreachable: nothing listens) or does not answer within {@code timeoutMillis}.
     */
    static List<String> queryOnce(String server, String name, int timeoutMillis) throws Exception {
        byte[] query = query(name);
        try (DatagramSocket socket = new DatagramSocket()) {
            socket.connect(new InetSocketAddress(InetAddress.getByName(server), 53)); // so a refusal is reported
            socket.setSoTimeout(timeoutMillis);
            socket.send(new DatagramPacket(query, query.length));
            byte[] buf = new byte[1500];
            DatagramPacket reply = new DatagramPacket(buf, buf.length);
            socket.receive(reply);
            return parse(ByteBuffer.wrap(buf, 0, reply.getLength()));
        }
    }

    static byte[] query(String name) throws Exception {
        ByteArrayOutputStream q = new ByteArrayOutputStream();
        int id = (int) (System.nanoTime() & 0xffff);
        q.write(new byte[] {(byte) (id >> 8), (byte) id, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0});
        for (String label : name.split("\\.")) {
            byte[] b = label.getBytes(StandardCharsets.US_ASCII);
            q.write(b.length);
            q.write(b);
        }
        q.write(new byte[] {0, 0, 1, 0, 1});
        return q.toByteArray();
    }

    private static List<String> parse(ByteBuffer b) {
        int answers = b.getShort(6) & 0xffff;
        b.position(12);
        skipName(b);
        b.position(b.position() + 4);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < answers; i++) {
            skipName(b);
            int type = b.getShort() & 0xffff;
            b.getShort();
            b.getInt();
            int len = b.getShort() & 0xffff;
            if (type == 1 && len == 4) {
                out.add((b.get() & 0xff) + "." + (b.get() & 0xff) + "." + (b.get() & 0xff) + "." + (b.get() & 0xff));
            } else {
                b.position(b.position() + len);
            }
        }
        return out;
    }

    private static void skipName(ByteBuffer b) {
        while (true) {
            int len = b.get() & 0xff;
            if (len == 0) {
                return;
            }
            if ((len & 0xc0) == 0xc0) {
                b.get();
                return;
            }
            b.position(b.position() + len);
        }
    }
}
