export { AES_BLOCK, aesCmac, cmacSubkeys, requireAes128Key } from "./aes-cmac.js";
export { CARD_KEY_LABEL, diversifyKey } from "./diversify.js";
export { macEquals, verifyCmac } from "./mac.js";
