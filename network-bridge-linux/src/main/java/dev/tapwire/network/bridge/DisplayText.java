package dev.tapwire.network.bridge;

/**
 * Text from outside (workspace names, values read from files) made safe to print: a name must look like what it
 * is, so {@code web\u200b} never prints as {@code web}.
 */
public final class DisplayText {

    private DisplayText() {
    }

    /**
     * Escapes every character that does not show as itself — control characters (newline, escape, ...), format
     * characters (bidi overrides and isolates, zero-width space and joiners, the byte-order mark), line and paragraph
     * separators, private-use, surrogate and unassigned code points — as {@code \}{@code uXXXX} (a code point above
     * U+FFFF as its UTF-16 pair), and a backslash as two, so the result can always be read back unambiguously.
     *
     * @param text the text, or null
     * @return the escaped text ({@code null} for null)
     */
    public static String escape(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> {
            if (cp == '\\') {
                sb.append("\\\\");
            } else if (shows(cp)) {
                sb.appendCodePoint(cp);
            } else {
                for (char c : Character.toChars(cp)) {
                    sb.append(String.format("\\u%04X", (int) c));
                }
            }
        });
        return sb.toString();
    }

    private static boolean shows(int cp) {
        switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
                    Character.PRIVATE_USE, Character.SURROGATE, Character.UNASSIGNED:
                return false;
            default:
                return !Character.isWhitespace(cp) || cp == ' ';
        }
    }
}
