/** Side-by-side benchmarks of tapwire (not deployed). */
module dev.tapwire.network.benchmarks {
    requires dev.tapwire.network.registry;
    requires dev.tapwire.network.bridge;
    requires jmh.core;

    opens dev.tapwire.network.benchmarks to jmh.core;
    opens dev.tapwire.network.benchmarks.jmh_generated to jmh.core;
}
