package dev.tapwire.network.bridge;

import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import dev.tapwire.network.testkit.NetworkProviderContractKit;
import java.nio.file.Files;
import dev.tapwire.network.Ipv4Address;
import java.nio.file.Path;
import java.util.List;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** The bridge backend keeps the provider contract, each test in its own network namespace. */
@IsolatedNetns
class BridgeContractTest extends NetworkProviderContractKit {

    @BeforeEach
    void bridge() {
        NetworkNamespace.createBridge("br0");
    }

    @Override
    protected NetworkProvider createProvider(Path rootDir) {
        return new BridgeNetworkProvider(ProviderSettings.of(rootDir).with("bridge", "br0"));
    }

    @Override
    protected NetworkProvider createProvider(ProviderSettings settings) {
        return new BridgeNetworkProvider(settings);
    }

    private BridgeNetworkProvider named;

    @Override
    protected List<Ipv4Address> resolve(String network, Ipv4Address gateway, String name) throws Exception {
        return Dns.queryA(gateway.toString(), name).stream().map(Ipv4Address::parse).toList();
    }

    @Override
    protected NetworkProvider createProvider(Path rootDir, NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        Files.setPosixFilePermissions(rootDir, PosixFilePermissions.fromString("rwxr-xr-x")); // dnsmasq: nobody
        named = new BridgeNetworkProvider(ProviderSettings.of(rootDir).withRegistry(registry));
        return named;
    }

    @AfterEach
    void unrealize() {
        if (named != null) { // after the group's own clean-up deleted its VMs: no dnsmasq outlives the test
            NetworkRealizer realizer = named.realizer().orElseThrow();
            realizer.list().forEach(r -> realizer.unrealize(r.network()));
        }
    }
}
