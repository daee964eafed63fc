package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkAssertions;
import dev.tapwire.network.testkit.StateDir;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The README's realization test example ("Testing your manager with tapwire"), as written there, plus the check
 * its comment promises: it must work for a user who copies it.
 */
@IsolatedNetns // a private network namespace per test: the host's interfaces are never touched
class ReadmeRealizationExampleTest {

    @StateDir
    Path state; // removed after the test, with everything realized under it

    @Test
    void membersResolveByName(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        registry.create("team");
        NetworkRealizer realizer = new NetworkRealizer(state, registry);
        realizer.realize("team", false);
        try (RegistryWatch following = realizer.follow()) {
            registry.join("team", "web"); // no further call: the realizer follows the registry
            NetworkAssertions.assertThat(registry.get("team")).hasMember("web", "10.44.1.2");
            // within 2 s, dnsmasq on 10.44.1.1 answers web and web.team with 10.44.1.2
            long start = System.nanoTime();
            while (!Dns.queryA("10.44.1.1", "web.team").equals(List.of("10.44.1.2"))) {
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
                Thread.sleep(10);
            }
            assertThat(Dns.queryA("10.44.1.1", "web")).containsExactly("10.44.1.2");
        }
        // no unrealize: closing the namespace stops its dnsmasq, and @StateDir removes the runtime directory
    }
}
