/**
 * Garbage collection across backends: modules, the active-VM protocol between them, and the orchestrator that runs a cycle.
 */
package dev.tapwire.network.gc;
