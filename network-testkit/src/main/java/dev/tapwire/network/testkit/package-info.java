/**
 * What users and backend authors test with: the in-memory provider, the provider contract kit, JUnit 5 extensions and AssertJ assertions.
 */
package dev.tapwire.network.testkit;
