package dev.tapwire.network;

import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.spi.NetworkProviderFactory;
import dev.tapwire.network.spi.ProviderSettings;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Test-only factories registered in src/test/resources/META-INF/services. */
final class TestFactories {

    private TestFactories() {
    }

    /** A provider that records which factory made it. */
    record Made(String type, String madeBy) implements NetworkProvider {
        @Override
        public VerifyReport verify(String vmId) {
            return new VerifyReport(vmId, List.of(), List.of());
        }

        @Override
        public List<NicConfig> configure(String vmId, int nics, VmSpec vm, List<NicConfig> existing) {
            return List.of();
        }

        @Override
        public NicConfig attach(String vmId, VmSpec vm, NicSpec nic) {
            throw new InvalidNetworkSpecException("discovery test provider: VM " + vmId + " is not configured");
        }

        @Override
        public void detach(String vmId, String tap) {
        }

        @Override
        public Optional<NetworkRealizations> networks() {
            return Optional.empty();
        }

        @Override
        public List<PortPublication> publish(String vmId, String tap, List<PortPublication> publications) {
            throw new InvalidNetworkSpecException("discovery test provider: VM " + vmId + " has no NIC " + tap);
        }

        @Override
        public List<PortPublication> unpublish(String vmId, List<PortPublication> publications) {
            return List.of();
        }

        @Override
        public Set<String> delete(Collection<String> vmIds) {
            return Set.copyOf(vmIds);
        }

        @Override
        public Optional<VmNetworks> inspect(String vmId) {
            return Optional.empty();
        }

        @Override
        public List<VmNetworks> list() {
            return List.of();
        }

        @Override
        public void registerGc(GcOrchestrator orchestrator) {
        }
    }

    abstract static class Base implements NetworkProviderFactory {
        @Override
        public NetworkProvider create(ProviderSettings settings) {
            return new Made(type(), getClass().getSimpleName());
        }
    }

    /** The only factory of type "solo". */
    public static final class Solo extends Base {
        @Override
        public String type() {
            return "solo";
        }
    }

    /** One of two factories of type "twin"; sorts second by class name. */
    public static final class TwinZulu extends Base {
        @Override
        public String type() {
            return "twin";
        }
    }

    /** One of two factories of type "twin"; sorts first by class name, so it is chosen. */
    public static final class TwinAlpha extends Base {
        @Override
        public String type() {
            return "twin";
        }
    }

    /** A factory whose constructor fails, as a provider with a missing native library would. */
    public static final class Broken extends Base {
        public Broken() {
            throw new IllegalStateException("native library missing");
        }

        @Override
        public String type() {
            return "broken";
        }
    }

    /** A factory whose type() fails. */
    public static final class BadType extends Base {
        @Override
        public String type() {
            throw new IllegalStateException("no type");
        }
    }

    /** Not registered in META-INF/services; used through the system property override. */
    public static final class Forced extends Base {
        @Override
        public String type() {
            return "twin";
        }
    }
}
