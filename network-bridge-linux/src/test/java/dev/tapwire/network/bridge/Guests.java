package dev.tapwire.network.bridge;

import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.QemuGuest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/** What the QEMU guest tests share: the image, the host requirements, and the tear-down after each test. */
final class Guests {

    private Guests() {
    }

    /**
     * Skips the calling test class (with the reasons) unless dnsmasq, nftables, QEMU and whatever else it names are
     * here, then returns the guest image under {@code target/guest}, built once and reused while its key matches.
     * Call it from {@code @BeforeAll}: building the image downloads the kernel package, which needs the host's
     * network, not the test's private namespace.
     */
    @SafeVarargs
    static Path imageOrSkip(Optional<String>... moreCauses) throws Exception {
        List<String> missing = new ArrayList<>();
        NetworkRealizer.unavailabilityCause().ifPresent(missing::add);
        QemuGuest.unavailabilityCause().ifPresent(missing::add);
        for (Optional<String> cause : moreCauses) {
            cause.ifPresent(missing::add);
        }
        HostRequirements.assume(missing.isEmpty(), String.join("; ", missing));
        return QemuGuest.image(Path.of("target/guest"));
    }

    /**
     * Stops the guests, stops the provider following its registry, deletes the VMs' TAPs and removes every
     * realization the provider's realizer made. The provider is closed first: a follower left running rewrites
     * state while JUnit deletes the test's directories, and that deletion then fails the test.
     */
    static void tearDown(Collection<QemuGuest> guests, BridgeNetworkProvider provider, List<String> vms) {
        guests.forEach(QemuGuest::close);
        if (provider != null) {
            provider.close();
            provider.delete(vms);
            NetworkRealizer realizer = provider.realizer().orElseThrow();
            realizer.list().forEach(r -> realizer.unrealize(r.network()));
        }
    }
}
