# Flatten a JSON document into one PATH=VALUE line per scalar, where PATH
# joins object keys and array indexes with dots:
#   {"networks": [{"routes": [{"gateway": "10.0.0.1"}]}]}
#   -> networks.0.routes.0.gateway=10.0.0.1
# Small enough for busybox awk, general enough for Nova's network_data.json
# whatever its key order. String escapes: \" and \\ and \/ are undone, other
# escapes keep only the escaped character (no \uXXXX decoding).
# Usage: awk -f json-flatten.awk FILE
function emit(value,    path, k) {
    path = ""
    for (k = 1; k <= d; k++)
        path = path (k > 1 ? "." : "") (type[k] == "a" ? idx[k] : key[k])
    print path "=" value
}
BEGIN { RS = "\001" }
{
    s = $0; n = length(s); d = 0; i = 1
    while (i <= n) {
        c = substr(s, i, 1)
        if (c == "{" || c == "[") {
            d++; type[d] = (c == "{") ? "o" : "a"; idx[d] = 0; key[d] = ""
            want_key[d] = (c == "{"); i++
        } else if (c == "}" || c == "]") {
            d--; i++
        } else if (c == ",") {
            if (type[d] == "a") idx[d]++; else want_key[d] = 1
            i++
        } else if (c == ":") {
            want_key[d] = 0; i++
        } else if (c == "\"") {
            v = ""; j = i + 1
            while (j <= n && (ch = substr(s, j, 1)) != "\"") {
                if (ch == "\\") { j++; ch = substr(s, j, 1) }
                v = v ch; j++
            }
            i = j + 1
            if (type[d] == "o" && want_key[d]) key[d] = v; else emit(v)
        } else if (c ~ /[ \t\r\n]/) {
            i++
        } else { # a number, true, false or null
            j = i
            while (j <= n && index(",}] \t\r\n", substr(s, j, 1)) == 0) j++
            emit(substr(s, i, j - i)); i = j
        }
    }
}
