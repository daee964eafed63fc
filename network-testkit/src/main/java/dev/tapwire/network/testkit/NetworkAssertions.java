package dev.tapwire.network.testkit;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.TapNames;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.assertj.core.api.AbstractAssert;

/**
 * AssertJ entry points for tapwire types.
 *
 * <pre>{@code
 * import static dev.tapwire.network.testkit.NetworkAssertions.assertThat;
 *
 * assertThat(registry.get("dev")).hasSubnet("10.44.1.0/24").hasMember("w1", "10.44.1.2");
 * assertThat(nics).hasNics(2).haveUniqueTapNames().haveLocallyAdministeredMacs().followTheNamingOf("vm-1");
 * }</pre>
 */
public final class NetworkAssertions {

    private NetworkAssertions() {
    }

    /**
     * Starts assertions on a network record.
     *
     * @param actual the record
     * @return the assertion
     */
    public static NetworkRecordAssert assertThat(NetworkRecord actual) {
        return new NetworkRecordAssert(actual);
    }

    /**
     * Starts assertions on the NIC configs a provider returned.
     *
     * @param actual the configs
     * @return the assertion
     */
    public static NicConfigsAssert assertThat(List<NicConfig> actual) {
        return new NicConfigsAssert(actual);
    }

    /** Assertions on a {@link NetworkRecord}. */
    public static final class NetworkRecordAssert extends AbstractAssert<NetworkRecordAssert, NetworkRecord> {

        NetworkRecordAssert(NetworkRecord actual) {
            super(actual, NetworkRecordAssert.class);
        }

        /**
         * Checks the subnet.
         *
         * @param cidr the expected subnet, e.g. {@code 10.44.1.0/24}
         * @return this
         */
        public NetworkRecordAssert hasSubnet(String cidr) {
            isNotNull();
            if (!actual.subnet().toString().equals(cidr)) {
                failWithMessage("expected network %s to have subnet %s but it has %s", actual.name(), cidr, actual.subnet());
            }
            return this;
        }

        /**
         * Checks the gateway.
         *
         * @param ip the expected gateway
         * @return this
         */
        public NetworkRecordAssert hasGateway(String ip) {
            isNotNull();
            if (!actual.gateway().toString().equals(ip)) {
                failWithMessage("expected network %s to have gateway %s but it has %s", actual.name(), ip, actual.gateway());
            }
            return this;
        }

        /**
         * Checks that a workspace is a member.
         *
         * @param workspace the workspace
         * @return this
         */
        public NetworkRecordAssert hasMember(String workspace) {
            isNotNull();
            if (actual.member(workspace).isEmpty()) {
                failWithMessage("expected network %s to have member %s but its members are %s", actual.name(),
                        workspace, actual.workspaces());
            }
            return this;
        }

        /**
         * Checks that a workspace is a member with a given address.
         *
         * @param workspace the workspace
         * @param ip the expected address
         * @return this
         */
        public NetworkRecordAssert hasMember(String workspace, String ip) {
            hasMember(workspace);
            Ipv4Address held = actual.member(workspace).map(Member::ip).orElseThrow();
            if (!held.toString().equals(ip)) {
                failWithMessage("expected member %s of network %s to hold %s but it holds %s", workspace,
                        actual.name(), ip, held);
            }
            return this;
        }

        /**
         * Checks that a workspace is not a member.
         *
         * @param workspace the workspace
         * @return this
         */
        public NetworkRecordAssert doesNotHaveMember(String workspace) {
            isNotNull();
            if (actual.member(workspace).isPresent()) {
                failWithMessage("expected network %s not to have member %s", actual.name(), workspace);
            }
            return this;
        }

        /**
         * Checks the member count.
         *
         * @param count the expected number of members
         * @return this
         */
        public NetworkRecordAssert hasMemberCount(int count) {
            isNotNull();
            if (actual.members().size() != count) {
                failWithMessage("expected network %s to have %d member(s) but it has %d: %s", actual.name(), count,
                        actual.members().size(), actual.workspaces());
            }
            return this;
        }

        /**
         * Checks that no two members share an address and every address lies in the subnet, off the gateway.
         *
         * @return this
         */
        public NetworkRecordAssert hasConsistentAddresses() {
            isNotNull();
            Set<Ipv4Address> seen = new HashSet<>();
            for (Member m : actual.members()) {
                if (!seen.add(m.ip())) {
                    failWithMessage("network %s hands out %s twice", actual.name(), m.ip());
                }
                if (!actual.subnet().contains(m.ip()) || m.ip().equals(actual.gateway())) {
                    failWithMessage("member %s of network %s holds %s, outside its hosts", m.workspace(), actual.name(),
                            m.ip());
                }
            }
            return this;
        }
    }

    /** Assertions on a list of {@link NicConfig}. */
    public static final class NicConfigsAssert extends AbstractAssert<NicConfigsAssert, List<NicConfig>> {

        NicConfigsAssert(List<NicConfig> actual) {
            super(actual, NicConfigsAssert.class);
        }

        /**
         * Checks the number of NICs.
         *
         * @param count the expected count
         * @return this
         */
        public NicConfigsAssert hasNics(int count) {
            isNotNull();
            if (actual.size() != count) {
                failWithMessage("expected %d NIC config(s) but got %d: %s", count, actual.size(), actual);
            }
            return this;
        }

        /**
         * Checks that every TAP name is distinct.
         *
         * @return this
         */
        public NicConfigsAssert haveUniqueTapNames() {
            isNotNull();
            Set<String> names = new HashSet<>();
            for (NicConfig nic : actual) {
                if (!names.add(nic.tap())) {
                    failWithMessage("TAP name %s is used twice in %s", nic.tap(), actual);
                }
            }
            return this;
        }

        /**
         * Checks that every MAC is locally administered unicast and distinct.
         *
         * @return this
         */
        public NicConfigsAssert haveLocallyAdministeredMacs() {
            isNotNull();
            Set<Object> macs = new HashSet<>();
            for (NicConfig nic : actual) {
                if (!nic.mac().isLocallyAdministered() || !nic.mac().isUnicast()) {
                    failWithMessage("NIC %s has MAC %s, which is not locally administered unicast", nic.tap(), nic.mac());
                }
                if (!macs.add(nic.mac())) {
                    failWithMessage("MAC %s is used twice in %s", nic.mac(), actual);
                }
            }
            return this;
        }

        /**
         * Checks that NIC {@code i} is named {@code bt<first 8 of vmId>-i}.
         *
         * @param vmId the VM ID
         * @return this
         */
        public NicConfigsAssert followTheNamingOf(String vmId) {
            isNotNull();
            for (int i = 0; i < actual.size(); i++) {
                String expected = TapNames.tapName(vmId, i);
                if (!expected.equals(actual.get(i).tap())) {
                    failWithMessage("NIC %d is named %s; expected %s", i, actual.get(i).tap(), expected);
                }
            }
            return this;
        }

        /**
         * Checks that every NIC is attached to {@code bridge}.
         *
         * @param bridge the bridge name
         * @return this
         */
        public NicConfigsAssert areAllOnBridge(String bridge) {
            isNotNull();
            for (NicConfig nic : actual) {
                if (!bridge.equals(nic.bridgeDev())) {
                    failWithMessage("NIC %s is on bridge %s; expected %s", nic.tap(), nic.bridgeDev(), bridge);
                }
            }
            return this;
        }
    }
}
