package io.spindle.api.error;

/** Which API's error format a response uses. */
public enum ApiDialect {
    OPENAI, TGI;

    /** TGI for its routes, OpenAI for everything else. */
    public static ApiDialect forPath(String path) {
        return path != null && (path.startsWith("/generate") || path.equals("/info") || path.equals("/")) ? TGI : OPENAI;
    }
}
