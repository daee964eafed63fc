package dev.tapwire.network.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Runs the tapwire command in-process and captures what it prints. It runs as a user who is not root (uid 1000)
 * unless told otherwise, so that a default state directory is never root's system one.
 */
final class CliRunner {

    record Result(int status, String out, String err) {
    }

    private final Map<String, String> env = new HashMap<>();
    private int uid = 1000;

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

    /** Runs the commands as if their caller had effective user id {@code uid} (0: root). */
    CliRunner asUid(int uid) {
        this.uid = uid;
        return this;
    }

    Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Tapwire.execute(env, uid, new PrintWriter(out), new PrintWriter(err), args);
        return new Result(status, out.toString(), err.toString());
    }
}
