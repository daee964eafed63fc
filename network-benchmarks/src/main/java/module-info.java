/** Side-by-side benchmarks of tapwire (not deployed). */
module dev.tapwire.network.benchmarks {
    requires dev.tapwire.network.registry;
    requires dev.tapwire.network.bridge;
    requires dev.tapwire.network.registry.etcd;
    requires dev.tapwire.network.testkit;
    requires jetcd.core;
    requires jmh.core;

    opens dev.tapwire.network.benchmarks to jmh.core;
    opens dev.tapwire.network.benchmarks.jmh_generated to jmh.core;
}
