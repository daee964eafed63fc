package dev.tapwire.network.registry.etcd;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on loopback in front of one etcd that, once armed, lets the client's next request through, swallows
 * the server's answer and cuts the connection: a commit that the server applies but whose reply never arrives. It
 * can also black-hole its connections (a partition: bytes are swallowed both ways, nothing is closed).
 */
final class CuttingProxy implements AutoCloseable {

    private final ServerSocket server;
    private final int upstreamPort;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicBoolean armed = new AtomicBoolean();
    private final AtomicBoolean clientSpokeSinceArmed = new AtomicBoolean();
    private final AtomicBoolean blackHoled = new AtomicBoolean();
    /** Bytes forwarded from the server to the client. */
    final java.util.concurrent.atomic.AtomicLong fromServer = new java.util.concurrent.atomic.AtomicLong();
    final AtomicInteger cuts = new AtomicInteger();

    CuttingProxy(int upstreamPort) throws IOException {
        this.upstreamPort = upstreamPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::accept, "cutting-proxy");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    /** Cuts the connection at the server's first bytes after the client's next ones. */
    void arm() {
        clientSpokeSinceArmed.set(false);
        armed.set(true);
    }

    /** Swallows every byte from now on, both ways, keeping the connections open — or, with false, forwards again. */
    void blackHole(boolean on) {
        blackHoled.set(on);
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort);
                sockets.add(client);
                sockets.add(upstream);
                pump(client, upstream, true);
                pump(upstream, client, false);
            } catch (IOException e) {
                return;
            }
        }
    }

    private void pump(Socket from, Socket to, boolean clientToServer) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[16384];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                    if (blackHoled.get()) {
                        continue; // partitioned: the bytes are lost
                    }
                    if (clientToServer) {
                        out.write(buffer, 0, n);
                        out.flush();
                        if (armed.get()) {
                            clientSpokeSinceArmed.set(true);
                        }
                    } else if (armed.get() && clientSpokeSinceArmed.get()) {
                        armed.set(false); // the reply is swallowed: cut this connection
                        cuts.incrementAndGet();
                        closeQuietly(from);
                        closeQuietly(to);
                        return;
                    } else {
                        fromServer.addAndGet(n);
                        out.write(buffer, 0, n);
                        out.flush();
                    }
                }
            } catch (IOException e) {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "cutting-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        sockets.forEach(CuttingProxy::closeQuietly);
    }
}
