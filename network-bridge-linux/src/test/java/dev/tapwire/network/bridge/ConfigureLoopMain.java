package dev.tapwire.network.bridge;

import dev.tapwire.network.VmSpec;
import dev.tapwire.network.spi.ProviderSettings;
import java.nio.file.Path;
import java.util.List;

/** A VM manager for the crash tests: configures and deletes VMs on {@code br0} until it is killed. */
public final class ConfigureLoopMain {

    private ConfigureLoopMain() {
    }

    /**
     * Configures four VMs of two NICs each and deletes them again, over and over, printing {@code ready} after
     * the first round so that the test can kill it mid-configure.
     *
     * @param args the provider's root directory
     */
    public static void main(String[] args) {
        BridgeNetworkProvider provider = new BridgeNetworkProvider(ProviderSettings.of(Path.of(args[0]))
                .with("bridge", "br0"));
        for (int round = 0; ; round++) {
            List<String> vms = List.of("loop" + round % 10 + "a", "loop" + round % 10 + "b", "loop" + round % 10 + "c",
                    "loop" + round % 10 + "d");
            for (String vm : vms) {
                provider.configure(vm, 2, VmSpec.of(1), List.of());
            }
            provider.delete(vms);
            if (round == 0) {
                System.out.println("ready");
                System.out.flush();
            }
        }
    }
}
