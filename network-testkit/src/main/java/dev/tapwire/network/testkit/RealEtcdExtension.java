package dev.tapwire.network.testkit;

import java.io.IOException;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;

/** The extension behind {@link RealEtcd}. */
public final class RealEtcdExtension implements BeforeAllCallback, ParameterResolver {

    private static final ExtensionContext.Namespace STORE = ExtensionContext.Namespace.create(RealEtcdExtension.class);

    /** Creates the extension; JUnit does this through {@link RealEtcd}. */
    public RealEtcdExtension() {
    }

    /**
     * Starts the servers for the outermost annotated class; nested classes find them in their parent's store.
     *
     * @throws IOException if etcd cannot be started
     * @throws InterruptedException if interrupted while waiting for it to become healthy
     */
    @Override
    public void beforeAll(ExtensionContext context) throws IOException, InterruptedException {
        if (context.getStore(STORE).get(Servers.class, Servers.class) != null) {
            return; // started for an enclosing class
        }
        int members = AnnotationSupport.findAnnotation(context.getRequiredTestClass(), RealEtcd.class)
                .map(RealEtcd::members).orElse(1);
        if (members < 1) {
            throw new IllegalArgumentException("@RealEtcd(members = " + members + "): at least one member");
        }
        context.getStore(STORE).put(Servers.class, new Servers(EtcdServers.start(members)));
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == EtcdServers.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Servers servers = context.getStore(STORE).get(Servers.class, Servers.class);
        if (servers == null) {
            throw new ParameterResolutionException("no etcd servers for " + parameter.getDeclaringExecutable()
                    + ": annotate the test class with @RealEtcd");
        }
        return servers.etcd;
    }

    /** Stops the servers when the class that started them is done. */
    private record Servers(EtcdServers etcd) implements ExtensionContext.Store.CloseableResource {
        @Override
        public void close() {
            etcd.close();
        }
    }
}
