package dev.tapwire.network.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.PrintWriter;
import java.util.Map;

/**
 * The command's one JSON shape, for results on stdout and errors on stderr alike.
 *
 * <p>Results are the library's JSON: its records keep their own names ({@code NicConfig}'s {@code num_queues},
 * {@code NetworkRecord}'s {@code created_at}), and every record the command defines for its output is written the
 * same way, in snake_case ({@code multi_queue}, {@code bridge_up}) — no command invents camelCase.
 * An error under {@code --json} is one object, {@code {"error": "<what and why>"}}, on stderr, with the exit status
 * it has without {@code --json}; without it, one line {@code tapwire: error: <what and why>}.
 */
final class Json {

    /** Writes and reads the command's JSON; explicitly named properties keep their names. */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE).build();

    private Json() {
    }

    /**
     * Prints {@code value} as one line of JSON.
     *
     * @throws IllegalStateException if it cannot be written (a bug: every value printed is a plain record)
     */
    static void print(PrintWriter out, Object value) {
        out.println(write(value));
    }

    /** Returns {@code value} as compact JSON. */
    static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * Prints an error: {@code {"error": message}} under {@code --json}, else {@code tapwire: error: message}.
     *
     * @param err where errors go
     * @param json whether {@code --json} was given
     * @param message what failed and why
     */
    static void printError(PrintWriter err, boolean json, String message) {
        err.println(json ? write(Map.of("error", message)) : "tapwire: error: " + message);
        err.flush();
    }
}
