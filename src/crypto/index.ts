export { AES_BLOCK, aesCmac, cmacSubkeys, requireAes128Key } from "./aes-cmac.js";
export { AN10922_AES128_CONSTANT, an10922DiversifyAes128 } from "./an10922.js";
export { CARD_KEY_LABEL, diversifyKey } from "./diversify.js";
export { macEquals, verifyCmac } from "./mac.js";
