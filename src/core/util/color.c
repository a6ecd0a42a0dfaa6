/* Accent colours that stay readable: WCAG 2's relative luminance and
 * contrast ratio, and the text colour (black or white) to put on an accent. */
#include <math.h>
#include <string.h>

#include "cn_template.h"

static int hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

apr_status_t cn_color_parse(const char *text, unsigned *rgb)
{
    unsigned v = 0;
    int i;
    if (!text || text[0] != '#' || strlen(text) != 7) {
        return APR_EINVAL;
    }
    for (i = 1; i < 7; ++i) {
        int h = hex(text[i]);
        if (h < 0) {
            return APR_EINVAL;
        }
        v = (v << 4) | (unsigned)h;
    }
    *rgb = v;
    return APR_SUCCESS;
}

/* sRGB channel (0-255) to linear light. */
static double linear(unsigned c)
{
    double s = (double)(c & 0xff) / 255.0;
    return s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4);
}

static double luminance(unsigned rgb)
{
    return 0.2126 * linear(rgb >> 16) + 0.7152 * linear(rgb >> 8) + 0.0722 * linear(rgb);
}

double cn_color_contrast(unsigned a, unsigned b)
{
    double la = luminance(a), lb = luminance(b);
    return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

const char *cn_color_text_on(unsigned bg)
{
    /* The better of the two is never below 4.58:1 (at luminance ~0.18). */
    return cn_color_contrast(bg, 0x000000) >= cn_color_contrast(bg, 0xffffff) ? "#000000"
                                                                              : "#ffffff";
}
