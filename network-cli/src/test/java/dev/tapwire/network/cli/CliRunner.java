package dev.tapwire.network.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Runs the tapwire command in-process and captures what it prints. */
final class CliRunner {

    record Result(int status, String out, String err) {
    }

    private final Map<String, String> env = new HashMap<>();

    CliRunner(Path stateDir) {
        env.put("TAPWIRE_STATE_DIR", stateDir.toString());
        env.put("HOME", stateDir.resolve("home").toString());
    }

    CliRunner env(String key, String value) {
        if (value == null) {
            env.remove(key);
        } else {
            env.put(key, value);
        }
        return this;
    }

    Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Tapwire.execute(env, new PrintWriter(out), new PrintWriter(err), args);
        return new Result(status, out.toString(), err.toString());
    }
}
